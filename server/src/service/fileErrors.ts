/**
 * Why a file could not be opened, read or written, in words rather than an errno code: the CLI's
 * source and output files and the data files (the `data:` line's diagnostic, `cloze eval`, the
 * editor's evaluation) say the same cause the same way. A missing file (`ENOENT`) and a folder
 * (`EISDIR`) are not here: what a path is relative to, and what to name instead, differ by caller.
 */
export function fileErrorInWords(error: unknown): string | undefined {
  switch ((error as NodeJS.ErrnoException | undefined)?.code) {
    case 'ENOTDIR':
      return 'a part of its path is a file, not a folder.';
    case 'ELOOP':
      return 'its symbolic links form a loop.';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied.';
    case 'EROFS':
      return 'the file system is read-only.';
    case 'ENOSPC':
      return 'the disk is full.';
    case 'EEXIST':
      return 'a file of that name is in the way.';
    default:
      return undefined;
  }
}

/** `fileErrorInWords`, else the error's own message. */
export function fileErrorText(error: unknown): string {
  return fileErrorInWords(error) ?? (error instanceof Error ? error.message : String(error));
}
