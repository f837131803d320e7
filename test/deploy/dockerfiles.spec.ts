// deploy/Dockerfile and deploy/Dockerfile.gpu, checked without a Docker engine: a small
// structured reading of the stages (base images, users, environment, what runs where), and the
// CUDA stage's environment replayed through onnxruntime-node's own install-flag parser.
import { describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

interface Stage {
  name: string;
  from: string;
  /** Instructions after FROM, continuation lines joined. */
  instructions: { op: string; args: string }[];
}
interface Dockerfile {
  args: Record<string, string>;
  stages: Stage[];
}

/** Parses a Dockerfile into global ARG defaults and stages (comments dropped, `\` continuations joined). */
function parseDockerfile(path: string): Dockerfile {
  const lines = readFileSync(join(root, path), 'utf8')
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.length > 0 && !l.startsWith('#'));
  const args: Record<string, string> = {};
  const stages: Stage[] = [];
  for (const line of lines) {
    const [op, ...rest] = line.split(/\s+/);
    const upper = op!.toUpperCase();
    const argsText = rest.join(' ');
    if (upper === 'FROM') {
      const m = /^(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$/i.exec(argsText);
      expect(m).not.toBeNull();
      stages.push({ name: m![2] ?? String(stages.length), from: m![1]!, instructions: [] });
    } else if (stages.length === 0) {
      if (upper === 'ARG') {
        const [k, v] = argsText.split('=');
        args[k!] = v ?? '';
      }
    } else {
      stages.at(-1)!.instructions.push({ op: upper, args: argsText });
    }
  }
  return { args, stages };
}

/** The image a stage starts from, with ARG defaults substituted. */
function baseImage(df: Dockerfile, stage: Stage): string {
  return stage.from.replace(/\$\{?([A-Za-z_]+)\}?/g, (_all, name: string) => df.args[name] ?? '');
}

/** ENV of a stage, inherited from the stages it is built FROM. */
function stageEnv(df: Dockerfile, stage: Stage): Record<string, string> {
  const parent = df.stages.find((s) => s.name === stage.from);
  const env: Record<string, string> = parent ? stageEnv(df, parent) : {};
  for (const i of stage.instructions.filter((x) => x.op === 'ENV')) {
    for (const m of i.args.matchAll(/([A-Za-z_][A-Za-z0-9_]*)=("[^"]*"|\S+)/g)) env[m[1]!] = m[2]!.replace(/^"|"$/g, '');
  }
  return env;
}

const FILES = ['deploy/Dockerfile', 'deploy/Dockerfile.gpu'] as const;

describe.each(FILES)('%s', (path) => {
  const df = parseDockerfile(path);
  const runtime = df.stages.at(-1)!;

  it('builds on Node.js 22 or 24 (supported lines) in every Node stage', () => {
    const nodeImages = df.stages.map((s) => baseImage(df, s)).filter((i) => i.startsWith('node:'));
    expect(nodeImages.length).toBeGreaterThan(0);
    for (const image of nodeImages) expect(image).toMatch(/^node:(22|24)(\.\d+)*(-[a-z]+)*(-slim)?$/);
    for (const image of df.stages.map((s) => baseImage(df, s))) expect(image).not.toMatch(/^node:(1\d|20|21|23)\b/);
  });

  it('runs as a non-root user with uid 1000 (as the Kubernetes manifests do), code owned by root, data dirs writable', () => {
    const users = runtime.instructions.filter((i) => i.op === 'USER').map((i) => i.args);
    expect(users.length).toBeGreaterThan(0);
    const user = users.at(-1)!;
    expect(user).not.toMatch(/^(root|0)(:|$)/);
    const runs = runtime.instructions.filter((i) => i.op === 'RUN').map((i) => i.args).join('\n');
    if (user !== 'node') expect(runs).toMatch(new RegExp(`useradd[^\\n]*--uid 1000[^\\n]*\\b${user}\\b`)); // the node image's `node` is 1000
    // Writable for the app user: the model storage and /app/.stratum; nothing else chowned.
    const chowns = [...runs.matchAll(/chown\s+(?:-R\s+)?\S+\s+([^&\n]+)/g)].flatMap((m) => m[1]!.trim().split(/\s+/));
    expect(chowns.sort()).toEqual(['/app/.stratum', '/var/lib/stratum']);
    expect(stageEnv(df, runtime).MODEL_STORAGE_DIR).toMatch(/^\/var\/lib\/stratum\//);
    expect(runtime.instructions.filter((i) => i.op === 'COPY').every((i) => !/--chown/.test(i.args))).toBe(true);
  });

  it('copies only from stages that exist', () => {
    const names = df.stages.map((s) => s.name);
    for (const s of df.stages) for (const i of s.instructions.filter((x) => x.op === 'COPY')) {
      const m = /--from=(\S+)/.exec(i.args);
      if (m) expect(names).toContain(m[1]);
    }
  });
});

describe('deploy/Dockerfile.gpu: the CUDA execution provider is installed at build', () => {
  const df = parseDockerfile('deploy/Dockerfile.gpu');
  const installer = 'node_modules/onnxruntime-node/script/install';
  const stage = df.stages.find((s) => s.instructions.some((i) => i.op === 'RUN' && i.args.includes(installer)))!;

  it('runs on a CUDA 12 + cuDNN runtime with CUDA first', () => {
    const runtime = df.stages.at(-1)!;
    expect(baseImage(df, runtime)).toMatch(/^nvidia\/cuda:12\.[\d.]+-cudnn[\w.-]*-runtime-/);
    expect(stageEnv(df, runtime).ORT_EXECUTION_PROVIDERS?.split(',')[0]).toBe('cuda');
    // The runtime's node_modules are those of the stage that installed the provider.
    expect(runtime.instructions.some((i) => i.op === 'COPY' && i.args.startsWith(`--from=${stage.name} /app/node_modules`))).toBe(true);
  });

  it('never sets ONNXRUNTIME_NODE_INSTALL=skip in the environment of the stage that installs CUDA', () => {
    expect(stage).toBeDefined();
    const env = stageEnv(df, stage);
    expect(env.ONNXRUNTIME_NODE_INSTALL).toBeUndefined();
    expect(env.npm_config_onnxruntime_node_install).toBeUndefined();
  });

  /**
   * The install command's environment as the shell would give it: the stage's ENV, then
   * `VAR=value` prefixes and `env -u VAR` removals in front of the installer, then its flags.
   */
  function installCommand(): { env: Record<string, string>; argv: string[] } {
    const run = stage.instructions.find((i) => i.op === 'RUN' && i.args.includes(installer))!.args;
    // The shell command (of a `&&` chain) that runs the installer.
    const command = run.split(/&&|\|\||;/).find((c) => c.includes(installer))!.trim();
    const words = command.split(/\s+/);
    const env: Record<string, string> = { ...stageEnv(df, stage) };
    let i = 0;
    while (i < words.length && !words[i]!.endsWith('node')) {
      const w = words[i]!;
      if (w === 'env') i += 1;
      else if (w === '-u') {
        delete env[words[i + 1]!];
        i += 2;
      } else if (/^[A-Za-z_][A-Za-z0-9_]*=/.test(w)) {
        const [k, ...v] = w.split('=');
        env[k!] = v.join('=');
        i += 1;
      } else throw new Error(`unexpected word before node: ${w}`);
    }
    expect(words[i + 1]).toBe(installer);
    return { env, argv: words.slice(i + 2) };
  }

  /** What onnxruntime-node's installer decides with that environment and those flags (its own parser). */
  function decide(env: Record<string, string>, argv: string[]): string {
    const utils = createRequire(import.meta.url).resolve('onnxruntime-node/script/install-utils.js');
    const metadata = createRequire(import.meta.url).resolve('onnxruntime-node/script/install-metadata.js');
    const probe = `const u = require(${JSON.stringify(utils)}); const flag = u.parseInstallFlag();
      const m = require(${JSON.stringify(metadata)});
      const manifests = typeof flag === 'string' ? flag.split(',') : flag === false ? [] : (m.requirements['linux/x64'] ?? []);
      console.log(JSON.stringify({ flag: flag === undefined ? 'default' : flag, manifests }));`;
    // Only the variables the parser reads, plus PATH: nothing of this test process leaks in.
    const res = spawnSync(process.execPath, ['-e', probe, '--', ...argv], { encoding: 'utf8', env: { PATH: '/usr/bin:/bin', ...env } });
    expect(res.stderr).toBe('');
    return res.stdout.trim();
  }

  it('gives the installer an environment and flags under which it installs the cuda12 manifest', () => {
    const { env, argv } = installCommand();
    expect(argv.join(' ')).toContain('--onnxruntime-node-install');
    const decision = JSON.parse(decide(env, argv)) as { flag: unknown; manifests: string[] };
    expect(decision.flag).not.toBe(false);
    expect(decision.manifests).toContain('cuda12');
  });

  it('(the check has teeth) the same command under ONNXRUNTIME_NODE_INSTALL=skip, as before the fix, installs nothing', () => {
    const { env, argv } = installCommand();
    expect(JSON.parse(decide({ ...env, ONNXRUNTIME_NODE_INSTALL: 'skip' }, argv))).toEqual({ flag: false, manifests: [] });
  });

  it('fails the build when the provider library is missing afterwards', () => {
    const runs = stage.instructions.filter((i) => i.op === 'RUN').map((i) => i.args);
    const after = runs.slice(runs.findIndex((r) => r.includes(installer)));
    expect(after.some((r) => r.includes('libonnxruntime_providers_cuda.so') && /exit 1/.test(r))).toBe(true);
  });
});
