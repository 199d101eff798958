import * as assert from 'node:assert/strict';
import { ImageLinksOnly } from '../../src/extension/chat/imageLinks';

/** Feeds the chunks through one filter, as a streamed answer would arrive. */
function stream(...chunks: string[]): string {
    const filter = new ImageLinksOnly();
    return chunks.map((chunk) => filter.push(chunk)).join('') + filter.flush();
}

describe('images in @local answers', () => {
    it('turns a markdown image into a link, even when a chunk ends between ! and [', () => {
        assert.equal(stream('See ![x](http://127.0.0.1:9/leak)'), 'See \\![x](http://127.0.0.1:9/leak)');
        assert.equal(stream('See !', '[x](http://127.0.0.1:9/leak)'), 'See \\![x](http://127.0.0.1:9/leak)');
        assert.equal(stream('word![x](u)'), 'word\\![x](u)');
    });

    it('leaves code fences, other exclamation marks and a final ! as written', () => {
        assert.equal(stream('Done!', ' Next!'), 'Done! Next!');
        assert.equal(stream('```rust\nlet v = vec![1, 2];\n``', '`\nafter ![i](u)'), '```rust\nlet v = vec![1, 2];\n```\nafter \\![i](u)');
        assert.equal(stream('Wow!'), 'Wow!');
    });
});
