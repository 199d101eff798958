/** Hub references as users type them in settings and on the command line. */
import { strict as assert } from 'node:assert';
import {
    hubFileId,
    hubFileNameProblem,
    hubUriProblem,
    isSafeRelativePath,
    isSplitPart,
    parseHubUri,
    quantFromFileName,
    splitPartFiles,
} from '../../src/sidecar/models/hubUri';

describe('hub URIs', () => {
    it('parses file references, with folders and revisions', () => {
        assert.deepEqual(parseHubUri('hf:bartowski/Llama-3.2-3B-Instruct-GGUF/Llama-3.2-3B-Instruct-Q4_K_M.gguf'), {
            repo: 'bartowski/Llama-3.2-3B-Instruct-GGUF',
            revision: 'main',
            file: 'Llama-3.2-3B-Instruct-Q4_K_M.gguf',
        });
        assert.deepEqual(parseHubUri('hf:owner/repo@v1.0/sub/dir/model.gguf'), { repo: 'owner/repo', revision: 'v1.0', file: 'sub/dir/model.gguf' });
    });

    it('parses quantization references, normalising case', () => {
        assert.deepEqual(parseHubUri('hf:Qwen/Qwen2.5-Coder-1.5B-Instruct-GGUF:q4_k_m'), {
            repo: 'Qwen/Qwen2.5-Coder-1.5B-Instruct-GGUF',
            revision: 'main',
            quant: 'Q4_K_M',
        });
        assert.equal(parseHubUri('hf:owner/repo@dev:Q8_0')?.revision, 'dev');
    });

    it('accepts links copied from the hub website', () => {
        assert.deepEqual(parseHubUri('https://huggingface.co/owner/repo/resolve/main/model-Q8_0.gguf?download=true'), {
            repo: 'owner/repo',
            revision: 'main',
            file: 'model-Q8_0.gguf',
        });
        assert.equal(parseHubUri('https://huggingface.co/owner/repo/blob/main/a%20b.gguf')?.file, 'a b.gguf');
    });

    it('accepts links from hf.co and from the configured endpoint (a mirror, with its path prefix), and no other host', () => {
        const expected = { repo: 'owner/repo', revision: 'main', file: 'model-Q8_0.gguf' };
        assert.deepEqual(parseHubUri('https://hf.co/owner/repo/resolve/main/model-Q8_0.gguf'), expected);
        assert.deepEqual(parseHubUri('https://mirror.example:8443/hf/owner/repo/resolve/main/model-Q8_0.gguf', 'https://mirror.example:8443/hf'), expected);
        assert.equal(parseHubUri('https://mirror.example/owner/repo/resolve/main/model-Q8_0.gguf'), undefined);
        assert.equal(parseHubUri('https://evil-huggingface.co/owner/repo/resolve/main/model-Q8_0.gguf'), undefined);
        assert.equal(parseHubUri('https://hf.co/owner/repo/resolve/main/%E0%A4%A.gguf'), undefined, 'a malformed escape is not a reference');
    });

    it('rejects what is not a hub reference or would escape the store', () => {
        assert.equal(parseHubUri('qwen2.5-coder-7b-instruct'), undefined);
        assert.equal(parseHubUri('/home/me/model.gguf'), undefined);
        assert.equal(parseHubUri('hf:owner'), undefined);
        assert.equal(parseHubUri('hf:owner/repo/../../etc/passwd'), undefined);
        assert.equal(parseHubUri('hf:../repo/file.gguf'), undefined);
        assert.equal(isSafeRelativePath('a/./b'), false);
        assert.equal(isSafeRelativePath('a/b.gguf'), true);
    });

    it('refuses file names that would print a fake line, escape the store, or pass for its own files, and says why', () => {
        assert.equal(hubFileNameProblem('sub/model-Q4_K_M.gguf'), undefined);
        assert.equal(hubFileNameProblem('evil\nInstalled /etc/passwd.gguf'), 'it contains control characters');
        assert.equal(hubFileNameProblem('\u001b[31mred.gguf'), 'it contains control characters');
        assert.equal(hubFileNameProblem('a\\b.gguf'), 'it contains a backslash');
        assert.match(hubFileNameProblem('../x.gguf') ?? '', /not a plain relative path/);
        for (const ending of ['.partial', '.partial.json', '.partial.lock', '.manifest.json']) {
            assert.equal(hubFileNameProblem(`x.gguf${ending.toUpperCase()}`), `it ends in ${ending}, which the models folder uses for its own files`);
        }
        assert.equal(parseHubUri('hf:o/r/x.gguf.partial'), undefined);
        assert.equal(parseHubUri('https://huggingface.co/o/r/resolve/main/a%0Ab.gguf'), undefined);
        assert.equal(hubUriProblem('https://huggingface.co/o/r/resolve/main/a%0Ab.gguf'), 'it contains control characters');
        assert.equal(hubUriProblem('https://huggingface.co/o/r/resolve/main/a%E0%A4%A.gguf'), undefined, 'a malformed escape is kept as written, not thrown');
        assert.equal(hubUriProblem('qwen2.5-coder-7b-instruct'), undefined);
    });

    it('reads the quantization from file names the way the hub names them', () => {
        assert.equal(quantFromFileName('qwen2.5-coder-1.5b-instruct-q4_k_m.gguf'), 'Q4_K_M');
        assert.equal(quantFromFileName('Meta-Llama-3.1-8B-Instruct-Q8_0.gguf'), 'Q8_0');
        assert.equal(quantFromFileName('gemma-2-2b-it-IQ4_XS.gguf'), 'IQ4_XS');
        assert.equal(quantFromFileName('model.f16.gguf'), 'F16');
        assert.equal(quantFromFileName('Qwen2.5-7B-Instruct-Q6_K.gguf'), 'Q6_K');
        assert.equal(quantFromFileName('tokenizer.gguf'), undefined);
        assert.equal(quantFromFileName('gpt-oss-20b-MXFP4.gguf'), 'MXFP4');
        assert.equal(quantFromFileName('gpt-oss-120b-mxfp4_moe.gguf'), 'MXFP4_MOE');
        assert.equal(quantFromFileName('bitnet-b1.58-2B-TQ1_0.gguf'), 'TQ1_0');
        assert.equal(quantFromFileName('bitnet-b1.58-2B-TQ2_0.gguf'), 'TQ2_0');
        assert.equal(quantFromFileName('Llama-3.3-70B-IQ2_XXS.gguf'), 'IQ2_XXS');
        assert.equal(quantFromFileName('Qwen3-8B-BF16.gguf'), 'BF16');
    });

    it('recognises split parts and builds stable ids', () => {
        assert.equal(isSplitPart('qwen2.5-7b-instruct-q4_k_m-00001-of-00002.gguf'), true);
        assert.equal(isSplitPart('qwen2.5-7b-instruct-q4_k_m.gguf'), false);
        assert.equal(hubFileId('o/r', 'f.gguf'), 'hf:o/r/f.gguf');
        assert.equal(hubFileId('o/r', 'f.gguf', 'dev'), 'hf:o/r@dev/f.gguf');
        assert.deepEqual(parseHubUri(hubFileId('o/r', 'd/f.gguf', 'dev')), { repo: 'o/r', revision: 'dev', file: 'd/f.gguf' });
    });

    it('names every part of a split GGUF from any one of them, as llama.cpp finds them', () => {
        assert.deepEqual(splitPartFiles('Q8_0/m-Q8_0-00002-of-00003.gguf'), [
            'Q8_0/m-Q8_0-00001-of-00003.gguf',
            'Q8_0/m-Q8_0-00002-of-00003.gguf',
            'Q8_0/m-Q8_0-00003-of-00003.gguf',
        ]);
        assert.equal(quantFromFileName('m-Q8_0-00002-of-00003.gguf'), 'Q8_0');
        assert.equal(splitPartFiles('m-Q8_0.gguf'), undefined);
        assert.equal(splitPartFiles('m-00004-of-00003.gguf'), undefined, 'a part past the count is no part');
        assert.equal(splitPartFiles('m-00000-of-00003.gguf'), undefined);
    });
});
