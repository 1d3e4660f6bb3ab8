/**
 * Splits a byte stream into lines of text (without their `\n` or `\r\n`).
 *
 * @module
 */

/** Yields each line of `stream`, decoded as UTF-8; the last one even without a newline. */
export async function* readLines(stream: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  let buffered = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    buffered += chunk;
    let i: number;
    while ((i = buffered.indexOf("\n")) !== -1) {
      const line = buffered.slice(0, i);
      buffered = buffered.slice(i + 1);
      yield line.endsWith("\r") ? line.slice(0, -1) : line;
    }
  }
  if (buffered !== "") yield buffered;
}
