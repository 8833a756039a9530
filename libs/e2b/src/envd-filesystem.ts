import { posix } from 'node:path';
import { ENVD_ACTOR } from './e2b-caller';
import { Code, ConnectError, HandlerContext, ServiceImpl } from '@connectrpc/connect';
import { create } from '@bufbuild/protobuf';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import { isCodedError } from '@app/domain';
import { SandboxWorkService } from '@app/sandbox';
import { connectErrorOf } from './e2b-errors';
import { permissionsOf, resolvePath } from './envd-paths';
import { sandboxIdOf, userOf } from './envd-request';
import { EntryInfo, EntryInfoSchema, FileType, Filesystem } from './gen/filesystem/filesystem_pb';

const MAX_DEPTH = 16;
const MAX_ENTRIES = 10_000;

interface Described {
  name: string;
  type: 'file' | 'directory' | 'symlink' | 'other';
  size: number;
  mode: number;
  mtime: Date;
  linkTarget: string | null;
}

/**
 * envd's filesystem service: Stat and ListDir through Docker's archive API (the same reads as
 * /v1's files), Remove through its delete, MakeDir and Move as short execs in the container.
 * Watchers are not served.
 */
export class EnvdFilesystem {
  constructor(private readonly work: SandboxWorkService) {}

  service(): Partial<ServiceImpl<typeof Filesystem>> {
    const unimplemented = () => {
      throw new ConnectError(
        'watching directories is not supported by sandboxd',
        Code.Unimplemented,
      );
    };
    return {
      stat: async (req, ctx) => {
        const { sandboxId, path } = this.target(req.path, ctx);
        return { entry: await this.stat(sandboxId, path) };
      },
      listDir: async (req, ctx) => {
        const { sandboxId, path } = this.target(req.path, ctx);
        const depth = Math.min(MAX_DEPTH, Math.max(1, req.depth || 1));
        const entries: EntryInfo[] = [];
        await this.list(sandboxId, path, depth, entries);
        return { entries };
      },
      makeDir: async (req, ctx) => {
        const { sandboxId, path } = this.target(req.path, ctx);
        const exists = await this.stat(sandboxId, path).then(
          () => true,
          (error: unknown) => {
            if (error instanceof ConnectError && error.code === Code.NotFound) return false;
            throw error;
          },
        );
        if (exists) throw new ConnectError(`path ${path} already exists`, Code.AlreadyExists);
        await this.shell(ctx, sandboxId, ['mkdir', '-p', '--', path]);
        return { entry: await this.stat(sandboxId, path) };
      },
      move: async (req, ctx) => {
        const { sandboxId, path: source } = this.target(req.source, ctx);
        const destination = resolvePath(
          req.destination,
          userOf((n) => ctx.requestHeader.get(n)),
        );
        await this.stat(sandboxId, source);
        await this.shell(ctx, sandboxId, ['mv', '-f', '--', source, destination]);
        return { entry: await this.stat(sandboxId, destination) };
      },
      remove: async (req, ctx) => {
        const { sandboxId, path } = this.target(req.path, ctx);
        try {
          await this.work.deleteFile(ENVD_ACTOR, sandboxId, path);
        } catch (error) {
          throw fileError(error, path);
        }
        return {};
      },
      watchDir: unimplemented,
      createWatcher: unimplemented,
      getWatcherEvents: unimplemented,
      removeWatcher: unimplemented,
    };
  }

  private target(raw: string, ctx: HandlerContext): { sandboxId: string; path: string } {
    const get = (n: string) => ctx.requestHeader.get(n);
    return { sandboxId: sandboxIdOf(get), path: resolvePath(raw, userOf(get)) };
  }

  private async stat(sandboxId: string, path: string): Promise<EntryInfo> {
    try {
      const info = await this.work.stat(ENVD_ACTOR, sandboxId, path);
      return entryOf(posix.dirname(path), { ...info, name: posix.basename(path) || '/' }, path);
    } catch (error) {
      throw fileError(error, path);
    }
  }

  private async list(
    sandboxId: string,
    dir: string,
    depth: number,
    into: EntryInfo[],
  ): Promise<void> {
    let read;
    try {
      read = await this.work.read(ENVD_ACTOR, sandboxId, dir);
    } catch (error) {
      throw fileError(error, dir);
    }
    if (read.kind === 'file') {
      read.content.destroy();
      throw new ConnectError(`path ${dir} is not a directory`, Code.InvalidArgument);
    }
    for (const entry of read.entries) {
      if (into.length >= MAX_ENTRIES) return;
      const path = posix.join(dir, entry.name);
      into.push(entryOf(dir, entry, path));
      if (depth > 1 && entry.type === 'directory')
        await this.list(sandboxId, path, depth - 1, into);
    }
  }

  private async shell(ctx: HandlerContext, sandboxId: string, argv: string[]): Promise<void> {
    try {
      const result = await this.work.exec(ENVD_ACTOR, sandboxId, {
        command: argv,
        user: userOf((n) => ctx.requestHeader.get(n)),
        timeoutSeconds: 30,
      });
      try {
        if (result.exitCode !== 0) {
          const why = result.stderr.toString('utf8').trim() || `exit code ${result.exitCode}`;
          throw new ConnectError(`${argv[0]} failed: ${why}`, Code.InvalidArgument);
        }
      } finally {
        result.release();
      }
    } catch (error) {
      throw connectErrorOf(error);
    }
  }
}

function entryOf(_dir: string, entry: Described, path: string): EntryInfo {
  const type =
    entry.type === 'directory'
      ? FileType.DIRECTORY
      : entry.type === 'symlink'
        ? FileType.SYMLINK
        : FileType.FILE;
  return create(EntryInfoSchema, {
    name: entry.name,
    type,
    path,
    size: BigInt(entry.size),
    mode: entry.mode,
    permissions: permissionsOf(entry.type, entry.mode),
    owner: '',
    group: '',
    modifiedTime: timestampFromDate(entry.mtime),
    symlinkTarget: entry.linkTarget ?? undefined,
  });
}

function fileError(error: unknown, path: string): ConnectError {
  if (isCodedError(error, 'FILE_NOT_FOUND')) {
    return new ConnectError(`path ${path} not found`, Code.NotFound);
  }
  return connectErrorOf(error);
}
