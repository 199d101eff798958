/**
 * The exit code of every `local-ai` command for each error code, so scripts can react without parsing
 * text. The models command's help prints the table for users.
 */
import { ErrorCode, type LocalAiError } from '../../common/errors';

const EXIT_BY_CODE: Partial<Record<ErrorCode, number>> = {
    [ErrorCode.ChecksumMismatch]: 3,
    [ErrorCode.ModelNotFound]: 4,
    [ErrorCode.ModelNotInstalled]: 4,
    [ErrorCode.DownloadFailed]: 5,
    [ErrorCode.NetworkError]: 5,
    [ErrorCode.ProviderError]: 5,
    [ErrorCode.Unauthorized]: 6,
    [ErrorCode.DiskFull]: 7,
    [ErrorCode.ModelDoesNotFit]: 8,
    [ErrorCode.FileSystemError]: 9,
    [ErrorCode.InvalidParams]: 2,
    [ErrorCode.Cancelled]: 130,
};

/** 1 for an error without its own exit code. */
export function exitCodeFor(error: LocalAiError): number {
    return EXIT_BY_CODE[error.code] ?? 1;
}
