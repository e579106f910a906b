//! The bounded line reader: one physical line of the input at a time, in a buffer of fixed
//! size whatever the input's shape.

use std::io::Read;

/// The longest line accepted, terminator excluded. An export's row is about 100 bytes; the limit
/// only exists so that input without line breaks cannot take memory without bound.
pub const MAX_LINE: usize = 64 * 1024;

/// How much of a too-long line the rejects file keeps.
pub const KEPT_OF_LONG_LINE: usize = 1024;

/// The read buffer; it holds at least one whole line of `MAX_LINE` bytes with its terminator.
const READ_BUF: usize = 1 << 20;

/// One physical line of the input, without its terminator (LF or CRLF).
#[derive(Debug, PartialEq, Eq)]
pub enum Line<'a> {
    /// `raw` is `text` followed by its terminator, when it has one.
    Text { text: &'a [u8], raw: &'a [u8] },
    /// Longer than `MAX_LINE`: `len` bytes (to its newline or the end of the input), of which
    /// only the first `KEPT_OF_LONG_LINE` are kept.
    TooLong { len: u64, prefix: &'a [u8] },
}

/// Splits a reader into lines in a buffer of fixed size: memory stays the same whatever the
/// input, even one that never yields a newline (the rest of a too-long line passes through the
/// same buffer and is dropped, up to its newline).
pub struct Lines<R> {
    inner: R,
    buf: Box<[u8]>,
    start: usize,
    end: usize,
    /// How far past `start` a newline has already been looked for.
    scanned: usize,
    eof: bool,
    /// The number of the line returned last (1-based).
    number: u64,
    prefix: Vec<u8>,
}

impl<R: Read> Lines<R> {
    pub fn new(inner: R) -> Self {
        Self {
            inner,
            buf: vec![0; READ_BUF].into_boxed_slice(),
            start: 0,
            end: 0,
            scanned: 0,
            eof: false,
            number: 0,
            prefix: Vec::with_capacity(KEPT_OF_LONG_LINE),
        }
    }

    /// Bytes this splitter holds, whatever it has read: the read buffer and a long line's prefix.
    pub fn memory(&self) -> usize {
        self.buf.len() + self.prefix.capacity()
    }

    /// The next line and its 1-based number, or `None` at the end of the input.
    pub fn next_line(&mut self) -> std::io::Result<Option<(u64, Line<'_>)>> {
        loop {
            let from = self.start + self.scanned;
            if let Some(i) = memchr::memchr(b'\n', &self.buf[from..self.end]) {
                let (start, newline) = (self.start, from + i);
                self.start = newline + 1;
                self.scanned = 0;
                self.number += 1;
                let raw = &self.buf[start..=newline];
                return Ok(Some((self.number, long_or_text(raw, &mut self.prefix))));
            }
            self.scanned = self.end - self.start;
            // Longer than a line with its CR may be, and no newline yet.
            if self.end - self.start > MAX_LINE + 1 {
                self.number += 1;
                let number = self.number;
                let (len, prefix) = self.skip_long_line()?;
                return Ok(Some((number, Line::TooLong { len, prefix })));
            }
            if self.eof {
                if self.start == self.end {
                    return Ok(None);
                }
                let start = self.start;
                self.start = self.end;
                self.scanned = 0;
                self.number += 1;
                let raw = &self.buf[start..self.end];
                return Ok(Some((self.number, long_or_text(raw, &mut self.prefix))));
            }
            if self.end == self.buf.len() {
                self.buf.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
            }
            self.fill()?;
        }
    }

    /// Reads more after `end`; sets `eof` when there is no more.
    fn fill(&mut self) -> std::io::Result<()> {
        loop {
            match self.inner.read(&mut self.buf[self.end..]) {
                Ok(0) => {
                    self.eof = true;
                    return Ok(());
                }
                Ok(n) => {
                    self.end += n;
                    return Ok(());
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Keeps the prefix of the too-long line starting at `start`, then drops bytes up to and
    /// including its newline (or the end of the input). Returns the line's length.
    fn skip_long_line(&mut self) -> std::io::Result<(u64, &[u8])> {
        self.prefix.clear();
        self.prefix
            .extend_from_slice(&self.buf[self.start..self.start + KEPT_OF_LONG_LINE]);
        let mut len = (self.end - self.start) as u64;
        let mut ends_in_cr = self.buf[self.end - 1] == b'\r';
        loop {
            self.start = 0;
            self.end = 0;
            self.scanned = 0;
            if self.eof {
                return Ok((len, &self.prefix));
            }
            self.fill()?;
            if let Some(i) = memchr::memchr(b'\n', &self.buf[..self.end]) {
                self.start = i + 1;
                let cr = if i == 0 {
                    ends_in_cr
                } else {
                    self.buf[i - 1] == b'\r'
                };
                return Ok((len + i as u64 - u64::from(cr), &self.prefix));
            }
            len += self.end as u64;
            ends_in_cr = self.end > 0 && self.buf[self.end - 1] == b'\r';
        }
    }
}

/// `raw` is the line with its terminator, when it has one.
fn long_or_text<'a>(raw: &'a [u8], prefix: &'a mut Vec<u8>) -> Line<'a> {
    let text = raw.strip_suffix(b"\n").unwrap_or(raw);
    let text = text.strip_suffix(b"\r").unwrap_or(text);
    if text.len() <= MAX_LINE {
        return Line::Text { text, raw };
    }
    prefix.clear();
    prefix.extend_from_slice(&text[..KEPT_OF_LONG_LINE]);
    Line::TooLong {
        len: text.len() as u64,
        prefix: prefix.as_slice(),
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::{Line, Lines, KEPT_OF_LONG_LINE, MAX_LINE, READ_BUF};

    /// Every line of `input` as (number, text or `Err(len)` for a too-long one).
    fn lines_of(input: impl Read) -> Vec<(u64, Result<Vec<u8>, u64>)> {
        let mut lines = Lines::new(input);
        let mut out = Vec::new();
        while let Some((n, line)) = lines.next_line().unwrap() {
            out.push(match line {
                Line::Text { text, .. } => (n, Ok(text.to_vec())),
                Line::TooLong { len, prefix } => {
                    assert_eq!(prefix.len(), KEPT_OF_LONG_LINE);
                    (n, Err(len))
                }
            });
        }
        out
    }

    /// Hands out its input a few bytes at a time, as a slow pipe does.
    struct Trickle<'a>(&'a [u8]);

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = buf.len().min(3).min(self.0.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    #[test]
    fn lines_end_at_lf_or_crlf_and_keep_their_numbers() {
        let input = b"a,b\r\n\r\nc\n\"d\r\nlast";
        let expected: Vec<(u64, Result<Vec<u8>, u64>)> = vec![
            (1, Ok(b"a,b".to_vec())),
            (2, Ok(b"".to_vec())),
            (3, Ok(b"c".to_vec())),
            (4, Ok(b"\"d".to_vec())),
            (5, Ok(b"last".to_vec())),
        ];
        assert_eq!(lines_of(&input[..]), expected);
        assert_eq!(lines_of(Trickle(input)), expected);
    }

    #[test]
    fn a_line_over_the_limit_is_too_long_and_the_next_one_is_read() {
        let mut input = vec![b'x'; MAX_LINE];
        input.extend_from_slice(b"\r\n");
        input.extend(std::iter::repeat_n(b'y', MAX_LINE + 1));
        input.extend_from_slice(b"\r\nok\n");
        input.extend(std::iter::repeat_n(b'z', 3 * READ_BUF + 5));
        input.extend_from_slice(b"\r\nend");
        let got = lines_of(&input[..]);
        assert_eq!(got.len(), 5);
        assert_eq!(got[0], (1, Ok(vec![b'x'; MAX_LINE])));
        assert_eq!(got[1], (2, Err(MAX_LINE as u64 + 1)));
        assert_eq!(got[2], (3, Ok(b"ok".to_vec())));
        assert_eq!(got[3], (4, Err(3 * READ_BUF as u64 + 5)));
        assert_eq!(got[4], (5, Ok(b"end".to_vec())));
        assert_eq!(lines_of(Trickle(&input)), got);
    }

    #[test]
    fn input_without_newlines_is_read_through_in_constant_memory() {
        let total = 64u64 << 20;
        let mut lines = Lines::new(std::io::repeat(0).take(total));
        let memory = lines.memory();
        assert!(memory <= READ_BUF + KEPT_OF_LONG_LINE, "{memory}");
        match lines.next_line().unwrap() {
            Some((1, Line::TooLong { len, prefix })) => {
                assert_eq!(len, total);
                assert_eq!(prefix.len(), KEPT_OF_LONG_LINE);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(lines.memory(), memory);
        assert!(lines.next_line().unwrap().is_none());
        assert_eq!(lines.memory(), memory);
    }
}
