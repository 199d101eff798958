/**
 * A store operation the local file system refused gets its own error (and the CLI its own exit code):
 * it is neither the network nor a full disk, and retrying the download does not help.
 */
import { ErrorCode, LocalAiError } from '../../common/errors';

/** What each refusal means, in the user's words. */
const REASONS: Record<string, string> = {
    EACCES: 'permission denied',
    EPERM: 'the operation is not permitted',
    EROFS: 'the file system is read-only',
    ENOTDIR: 'a part of the path is a file, not a folder',
    EEXIST: 'a file is in the way',
    EISDIR: 'a folder is in the way',
    ENAMETOOLONG: 'the name is too long for the file system',
    ELOOP: 'the path goes round a loop of symbolic links',
};

export const FILE_SYSTEM_HINT = 'Choose a models folder you can write to: --models-dir, LOCAL_AI_MODELS_PATH or localAi.modelsPath.';

/** The file-system fault behind `error`, or undefined when it is something else (the network, a full disk). */
export function fileSystemError(error: unknown, file?: string): LocalAiError | undefined {
    const errno = error as NodeJS.ErrnoException | undefined;
    const reason = errno?.code ? REASONS[errno.code] : undefined;
    if (!reason) return undefined;
    const where = errno?.path ?? file;
    return new LocalAiError(ErrorCode.FileSystemError, `Cannot use ${where ?? 'the models folder'}: ${reason}.`, {
        file: where,
        hint: FILE_SYSTEM_HINT,
    });
}
