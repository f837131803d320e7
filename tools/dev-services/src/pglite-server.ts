import { PGlite } from '@electric-sql/pglite';
import { createServer, type Server, type Socket } from 'node:net';

/**
 * A Postgres wire-protocol front for one embedded PGlite, safe for many concurrent
 * client connections.
 *
 * Why not PGLiteSocketServer from @electric-sql/pglite-socket 0.2.17? With its default
 * `maxConnections: 1` every further connection is refused ("Too many connections", seen by
 * pg as ECONNRESET) — three apps with pools cannot share it. With `maxConnections > 1` it
 * queues single protocol *messages* from all connections into one PGlite session, so an
 * extended-query sequence (Parse/Bind/Execute/Sync, which pg uses for every parameterised
 * query) from one client interleaves with another's, and clients get `portal "" does not
 * exist` or each other's results (reproduced with 3 pg pools × 5 connections).
 *
 * This server instead gives a connection the whole PGlite session from its first message
 * until a Sync or simple Query completes *outside* a transaction; a connection inside a
 * transaction keeps the session until COMMIT/ROLLBACK. Other connections wait their turn
 * (FIFO). On disconnect the session is cleaned up (Sync + ROLLBACK when needed).
 *
 * Known limits (one shared backend session): the database name in the URL is ignored (PGlite
 * has one database); session state — SET, named prepared statements, temp tables,
 * LISTEN — is shared by all connections; a client idle in a transaction blocks the others.
 */
export interface PgliteServerOptions {
  readonly dataDir: string;
  readonly host: string;
  readonly port: number;
}

export interface PgliteServer {
  readonly host: string;
  readonly port: number;
  readonly db: PGlite;
  close(): Promise<void>;
}

const SSL_REQUEST = 80877103;
const GSSENC_REQUEST = 80877104;
const CANCEL_REQUEST = 80877102;
const PROTOCOL_3 = 196608;
const SYNC = Uint8Array.from([0x53, 0, 0, 0, 4]);

/** A FIFO mutex: the PGlite session is owned by at most one connection. */
class SessionLock {
  private owner: object | undefined;
  private readonly waiting: { who: object; resolve: () => void }[] = [];

  async acquire(who: object): Promise<void> {
    if (this.owner === who) return;
    if (this.owner === undefined) {
      this.owner = who;
      return;
    }
    await new Promise<void>((resolve) => this.waiting.push({ who, resolve }));
  }

  holds(who: object): boolean {
    return this.owner === who;
  }

  release(who: object): void {
    if (this.owner !== who) return;
    const next = this.waiting.shift();
    this.owner = next?.who;
    next?.resolve();
  }

  forget(who: object): void {
    const i = this.waiting.findIndex((w) => w.who === who);
    if (i !== -1) this.waiting.splice(i, 1);
  }
}

function simpleQuery(sql: string): Uint8Array {
  const body = Buffer.from(sql + '\0', 'utf8');
  const msg = Buffer.alloc(5 + body.length);
  msg.write('Q', 0, 'latin1');
  msg.writeInt32BE(4 + body.length, 1);
  body.copy(msg, 5);
  return new Uint8Array(msg);
}

export async function startPgliteServer(options: PgliteServerOptions): Promise<PgliteServer> {
  const db = await PGlite.create(options.dataDir);
  const lock = new SessionLock();
  const sockets = new Set<Socket>();

  const run = (message: Uint8Array, onData: (data: Uint8Array) => void): Promise<void> =>
    db.runExclusive(() => db.execProtocolRawStream(message, { onRawData: onData }));

  const handle = (socket: Socket): void => {
    sockets.add(socket);
    socket.setNoDelay(true);
    const me = {};
    let buffer = Buffer.alloc(0);
    let started = false;
    let closed = false;
    let chain: Promise<void> = Promise.resolve();

    const write = (data: Uint8Array): void => {
      if (!closed && data.length > 0) socket.write(Buffer.from(data));
    };

    const cleanup = async (): Promise<void> => {
      lock.forget(me);
      if (!lock.holds(me)) return;
      try {
        await run(SYNC, () => {});
        if (db.isInTransaction()) await run(simpleQuery('ROLLBACK'), () => {});
      } finally {
        lock.release(me);
      }
    };

    const processMessage = async (message: Buffer): Promise<void> => {
      const startup = !started;
      if (startup) {
        const code = message.readInt32BE(4);
        if (code === SSL_REQUEST || code === GSSENC_REQUEST) {
          write(Buffer.from('N'));
          return;
        }
        if (code === CANCEL_REQUEST) {
          socket.end();
          return;
        }
        if (code !== PROTOCOL_3) {
          socket.destroy();
          return;
        }
        started = true;
      } else if (message[0] === 0x58 /* X: Terminate */) {
        socket.end();
        return;
      }
      await lock.acquire(me);
      if (closed) return; // cleanup() (chained after us) releases the session
      await run(new Uint8Array(message), write);
      // Session boundary: after the startup message, a Sync or a simple Query, when no
      // transaction is open, another connection may have the session.
      const boundary = startup || message[0] === 0x53 /* S: Sync */ || message[0] === 0x51; /* Q: Query */
      if (boundary && !db.isInTransaction()) lock.release(me);
    };

    const drain = async (): Promise<void> => {
      for (;;) {
        let length: number;
        if (!started) {
          if (buffer.length < 8) return;
          length = buffer.readInt32BE(0);
        } else {
          if (buffer.length < 5) return;
          length = 1 + buffer.readInt32BE(1);
        }
        if (length < 4 || buffer.length < length) return;
        const message = Buffer.from(buffer.subarray(0, length));
        buffer = buffer.subarray(length);
        await processMessage(message);
        if (closed) return;
      }
    };

    socket.on('data', (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      chain = chain.then(drain).catch((error: unknown) => {
        socket.destroy(error instanceof Error ? error : new Error(String(error)));
      });
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      closed = true;
      sockets.delete(socket);
      chain = chain.then(cleanup, cleanup).catch(() => {});
    });
  };

  const server: Server = createServer(handle);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;

  let closing: Promise<void> | undefined;
  return {
    host: options.host,
    port,
    db,
    close: () =>
      (closing ??= (async () => {
        const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
        for (const s of sockets) s.destroy();
        await stopped;
        await db.close();
      })()),
  };
}
