//! Log output that a peer cannot forge: every log record is written with
//! its control characters escaped (`\n`, `\r`, ESC, BEL, C1 controls, the
//! Unicode line separators), except the one newline that ends the record.
//! Peer-supplied text (a handshake's `network`, a `Reject` reason) may go
//! into any field of any line; escaping at the writer covers them all, so no
//! call site can forget. One record = one line, always.

use std::io::{self, Write};
use tracing_subscriber::fmt::MakeWriter;

/// `MakeWriter` for stderr with escaping. `keep_ansi`: leave ESC alone
/// (only when the subscriber itself colours output for a terminal).
#[derive(Clone, Copy)]
pub struct EscapedStderr {
    pub keep_ansi: bool,
}

impl<'a> MakeWriter<'a> for EscapedStderr {
    type Writer = Escaping<io::Stderr>;
    fn make_writer(&'a self) -> Self::Writer {
        Escaping {
            inner: io::stderr(),
            keep_ansi: self.keep_ansi,
        }
    }
}

/// Escapes each buffer it is given (one formatted record per write).
pub struct Escaping<W> {
    inner: W,
    keep_ansi: bool,
}

impl<W: Write> Write for Escaping<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        let out = escape_record(&text, self.keep_ansi);
        self.inner.write_all(out.as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Escape `record`, keeping one trailing newline if it has one.
pub fn escape_record(record: &str, keep_ansi: bool) -> String {
    let (body, newline) = match record.strip_suffix('\n') {
        Some(b) => (b, true),
        None => (record, false),
    };
    let mut out = String::with_capacity(body.len() + 1);
    for ch in body.chars() {
        match ch {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push(ch),
            '\x1b' if keep_ansi => out.push(ch),
            c if c.is_control() || c == '\u{2028}' || c == '\u{2029}' => {
                out.push_str(&format!("\\u{{{:x}}}", c as u32))
            }
            c => out.push(c),
        }
    }
    if newline {
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_stays_one_line_without_raw_controls() {
        let forged =
            "INFO x: reason=net\n2026 ERROR timed::node: forged\x1b[31m\r\x07\u{9b}\u{2028}\n";
        let out = escape_record(forged, false);
        assert_eq!(out.matches('\n').count(), 1);
        assert!(out.ends_with('\n'));
        assert!(!out.chars().any(|c| c.is_control() && c != '\n'));
        assert!(out.contains("net\\n2026 ERROR"), "{out}");
        assert!(
            out.contains("\\u{1b}[31m\\r\\u{7}\\u{9b}\\u{2028}"),
            "{out}"
        );
    }

    #[test]
    fn ansi_colouring_survives_on_a_terminal_and_text_is_untouched() {
        assert_eq!(
            escape_record("\x1b[2mts\x1b[0m ok é\n", true),
            "\x1b[2mts\x1b[0m ok é\n"
        );
        assert_eq!(escape_record("plain", false), "plain");
    }

    #[test]
    fn the_writer_consumes_the_whole_buffer() {
        let mut w = Escaping {
            inner: Vec::new(),
            keep_ansi: false,
        };
        assert_eq!(w.write(b"a\nb\n").unwrap(), 4);
        assert_eq!(w.inner, b"a\\nb\n");
    }
}
