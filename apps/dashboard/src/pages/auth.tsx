import { useState, type FormEvent } from 'react';
import { api, type ApiError } from '../api/client.js';
import type { Me } from '../api/types.js';
import { ErrorBox } from '../ui/components.js';
import { toApiError } from '../ui/hooks.js';
import { hrefOf, navigate } from '../ui/router.js';

export function LoginPage({ onLoggedIn }: { onLoggedIn: (me: Me) => void }) {
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<ApiError | null>(null);
  const [pending, setPending] = useState(false);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setPending(true);
    setError(null);
    try {
      onLoggedIn(await api.login(email, password));
    } catch (err) {
      setError(toApiError(err));
    } finally {
      setPending(false);
    }
  };
  return (
    <main className="narrow auth" id="main">
      <h1>Log in to Stratum</h1>
      <form onSubmit={(e) => void submit(e)}>
        <label>
          Email
          <input type="email" name="email" autoComplete="username" required value={email} onChange={(e) => setEmail(e.target.value)} />
        </label>
        <label>
          Password
          <input type="password" name="password" autoComplete="current-password" required value={password} onChange={(e) => setPassword(e.target.value)} />
        </label>
        {error && <ErrorBox error={error} />}
        <button type="submit" disabled={pending}>
          {pending ? 'Logging in…' : 'Log in'}
        </button>
      </form>
      <p>
        No account?{' '}
        <a
          href={hrefOf({ kind: 'signup' })}
          onClick={(e) => {
            e.preventDefault();
            navigate({ kind: 'signup' });
          }}
        >
          Sign up
        </a>
      </p>
    </main>
  );
}

export function SignupPage({ onLoggedIn }: { onLoggedIn: (me: Me) => void }) {
  const [form, setForm] = useState({ email: '', password: '', name: '', organization_name: '' });
  const [error, setError] = useState<ApiError | null>(null);
  const [pending, setPending] = useState(false);
  const set = (k: keyof typeof form) => (e: { target: { value: string } }) => setForm((f) => ({ ...f, [k]: e.target.value }));
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setPending(true);
    setError(null);
    try {
      await api.signup({ email: form.email, password: form.password, ...(form.name ? { name: form.name } : {}), ...(form.organization_name ? { organization_name: form.organization_name } : {}) });
      // Sign-up answers the same for a taken email: logging in tells whether the password is right.
      onLoggedIn(await api.login(form.email, form.password));
    } catch (err) {
      setError(toApiError(err));
    } finally {
      setPending(false);
    }
  };
  return (
    <main className="narrow auth" id="main">
      <h1>Create your Stratum account</h1>
      <form onSubmit={(e) => void submit(e)}>
        <label>
          Email
          <input type="email" name="email" autoComplete="username" required value={form.email} onChange={set('email')} />
        </label>
        <label>
          Password <span className="muted small">(at least 10 characters)</span>
          <input type="password" name="password" autoComplete="new-password" required minLength={10} value={form.password} onChange={set('password')} />
        </label>
        <label>
          Your name <span className="muted small">(optional)</span>
          <input name="name" autoComplete="name" value={form.name} onChange={set('name')} />
        </label>
        <label>
          Organization name <span className="muted small">(optional)</span>
          <input name="organization_name" autoComplete="organization" value={form.organization_name} onChange={set('organization_name')} />
        </label>
        {error && <ErrorBox error={error} />}
        <button type="submit" disabled={pending}>
          {pending ? 'Creating…' : 'Sign up'}
        </button>
      </form>
      <p>
        Have an account?{' '}
        <a
          href={hrefOf({ kind: 'login' })}
          onClick={(e) => {
            e.preventDefault();
            navigate({ kind: 'login' });
          }}
        >
          Log in
        </a>
      </p>
    </main>
  );
}
