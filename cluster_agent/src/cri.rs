//! The CRI container log format: `<RFC3339Nano> <stdout|stderr> <P|F> <text>`.
//! Pure parsing and partial-line joining; the tailer feeds it bytes and offsets.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

impl Stream {
    pub fn as_str(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        }
    }

    pub fn index(self) -> usize {
        self as usize
    }
}

#[derive(Debug, PartialEq, Eq)]
pub struct CriLine<'a> {
    pub ts: &'a str,
    pub stream: Stream,
    pub partial: bool,
    pub text: &'a [u8],
}

/// One physical line (without its newline), or None when it is not CRI.
pub fn parse(line: &[u8]) -> Option<CriLine<'_>> {
    let mut fields = line.splitn(4, |&b| b == b' ');
    let ts = std::str::from_utf8(fields.next()?).ok()?;
    let stream = match fields.next()? {
        b"stdout" => Stream::Stdout,
        b"stderr" => Stream::Stderr,
        _ => return None,
    };
    // The tag is `P` or `F`, possibly followed by `:`-separated future flags.
    let tag = fields.next()?;
    let partial = match tag.split(|&b| b == b':').next()? {
        b"P" => true,
        b"F" => false,
        _ => return None,
    };
    let text = fields.next().unwrap_or(b"");
    let ts = ts.strip_suffix('\r').unwrap_or(ts);
    (ts.len() >= 20 && ts.as_bytes()[4] == b'-').then_some(CriLine { ts, stream, partial, text })
}

/// A whole message joined from `P` parts and a final `F`, capped at `max_bytes`.
#[derive(Debug, Default)]
pub struct Assembler {
    pub bytes: Vec<u8>,
    /// File offset of the first part; None while no message is open.
    pub start: Option<u64>,
    pub ts: String,
    /// Bytes beyond the cap that were dropped.
    pub dropped: u64,
}

impl Assembler {
    /// Add one part; the caller emits when the part is final (`F`).
    pub fn push(&mut self, offset: u64, ts: &str, text: &[u8], max_bytes: usize) {
        if self.start.is_none() {
            self.start = Some(offset);
            self.ts.clear();
            self.ts.push_str(ts);
        }
        let room = max_bytes.saturating_sub(self.bytes.len());
        let keep = room.min(text.len());
        self.bytes.extend_from_slice(&text[..keep]);
        self.dropped += (text.len() - keep) as u64;
    }

    pub fn take(&mut self) -> Message {
        let dropped = std::mem::take(&mut self.dropped);
        let bytes = std::mem::take(&mut self.bytes);
        self.start = None;
        Message::from_bytes(&bytes, dropped)
    }
}

/// Decoded message text and what was unusual about it.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Message {
    pub text: String,
    pub invalid_utf8: bool,
    pub truncated: bool,
}

impl Message {
    /// Lossy UTF-8 (never fails), with a marker saying how many bytes were cut off.
    pub fn from_bytes(bytes: &[u8], dropped: u64) -> Message {
        let mut message = Message { text: String::new(), invalid_utf8: false, truncated: false };
        message.fill(bytes, dropped);
        message
    }

    /// `from_bytes` into this message, reusing its text's buffer.
    pub fn fill(&mut self, mut bytes: &[u8], dropped: u64) {
        if dropped > 0 {
            // The cap may have split a character: drop its incomplete start.
            if let Err(e) = std::str::from_utf8(bytes) {
                if e.error_len().is_none() {
                    bytes = &bytes[..e.valid_up_to()];
                }
            }
        }
        self.text.clear();
        self.invalid_utf8 = match std::str::from_utf8(bytes) {
            Ok(valid) => {
                self.text.push_str(valid);
                false
            }
            Err(_) => {
                self.text.push_str(&String::from_utf8_lossy(bytes));
                true
            }
        };
        if dropped > 0 {
            use std::fmt::Write;
            let _ = write!(self.text, " [TRUNCATED: {dropped} more bytes]");
        }
        self.truncated = dropped > 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_full_and_partial_lines() {
        let line = parse(b"2026-11-29T04:31:07.123456789Z stdout F hello world").unwrap();
        assert_eq!(line, CriLine { ts: "2026-11-29T04:31:07.123456789Z", stream: Stream::Stdout, partial: false, text: b"hello world" });
        let part = parse(b"2026-11-29T04:31:07Z stderr P a b ").unwrap();
        assert!(part.partial && part.stream == Stream::Stderr && part.text == b"a b ");
    }

    #[test]
    fn empty_text_and_future_flags() {
        assert_eq!(parse(b"2026-11-29T04:31:07Z stdout F").unwrap().text, b"");
        assert_eq!(parse(b"2026-11-29T04:31:07Z stdout F ").unwrap().text, b"");
        assert!(!parse(b"2026-11-29T04:31:07Z stdout F:x y").unwrap().partial);
    }

    #[test]
    fn malformed_lines_are_rejected() {
        for bad in [&b""[..], b"plain text", b"2026-11-29T04:31:07Z stdin F x", b"2026-11-29T04:31:07Z stdout X x", b"now stdout F x"] {
            assert!(parse(bad).is_none(), "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn joins_parts_up_to_the_cap_with_a_marker() {
        let mut asm = Assembler::default();
        asm.push(100, "t1", b"abcd", 6);
        asm.push(130, "t2", b"efgh", 6);
        assert_eq!(asm.start, Some(100));
        let message = asm.take();
        assert_eq!(message.text, "abcdef [TRUNCATED: 2 more bytes]");
        assert!(message.truncated && asm.start.is_none());
    }

    #[test]
    fn cap_inside_a_character_is_not_invalid_utf8() {
        let message = Message::from_bytes("ab\u{e9}".as_bytes().split_at(3).0, 1);
        assert_eq!(message.text, "ab [TRUNCATED: 1 more bytes]");
        assert!(!message.invalid_utf8);
    }

    #[test]
    fn invalid_utf8_is_replaced_not_fatal() {
        let message = Message::from_bytes(b"ok \xff\xfe done", 0);
        assert!(message.invalid_utf8);
        assert_eq!(message.text, "ok \u{fffd}\u{fffd} done");
    }
}
