//! The CSV line splitter: one line's fields, quotes and doubled quotes undone.

/// One line's fields.
pub(super) struct Fields<'a> {
    data: &'a [u8],
    ends: &'a [usize],
}

impl<'a> Fields<'a> {
    pub(super) fn len(&self) -> usize {
        self.ends.len()
    }

    pub(super) fn get(&self, i: usize) -> &'a [u8] {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.data[start..self.ends[i]]
    }

    pub(super) fn iter(&self) -> impl Iterator<Item = &'a [u8]> + '_ {
        (0..self.len()).map(|i| self.get(i))
    }
}

/// Parses one line as one CSV record with the csv crate's parser (quotes, doubled quotes).
/// That parser reads a quote left open on to the end of the input; here it ends at the line's
/// end and is an error.
pub(super) struct Splitter {
    parser: csv_core::Reader,
    data: Vec<u8>,
    ends: Vec<usize>,
}

const UNCLOSED_QUOTE: &str = "a quoted field is not closed on this line (a `\"` without its closing `\"`; fields cannot span lines)";

const LONE_CR: &str = "a carriage return (\\r) inside the line, not part of its line end";

impl Splitter {
    pub(super) fn new() -> Self {
        Self {
            // CRLF: the parser takes \r, \n and \r\n as a record's end.
            parser: csv_core::Reader::new(),
            data: vec![0; 256],
            ends: vec![0; 16],
        }
    }

    /// `raw` is one line with its terminator, when it has one (the last line may not).
    pub(super) fn split(&mut self, raw: &[u8]) -> Result<Fields<'_>, &'static str> {
        use csv_core::ReadRecordResult as R;
        // Parsing the terminator with the line saves a call per line; a line without one gets
        // one fed after it.
        let (mut input, mut fed_end) = (raw, raw.ends_with(b"\n"));
        let (mut nout, mut nend) = (0, 0);
        loop {
            let (result, nin, o, e) =
                self.parser
                    .read_record(input, &mut self.data[nout..], &mut self.ends[nend..]);
            input = &input[nin..];
            nout += o;
            nend += e;
            match result {
                R::InputEmpty if fed_end => {
                    // The terminator went into a quoted field.
                    self.parser.reset();
                    return Err(UNCLOSED_QUOTE);
                }
                R::InputEmpty => {
                    input = b"\n";
                    fed_end = true;
                }
                // Both are bounded by the line's length, itself bounded by MAX_LINE.
                R::OutputFull => self.data.resize(self.data.len() * 2, 0),
                R::OutputEndsFull => self.ends.resize(self.ends.len() * 2, 0),
                R::Record | R::End => {
                    if input.iter().any(|&b| b != b'\r' && b != b'\n') {
                        self.parser.reset();
                        return Err(LONE_CR);
                    }
                    break;
                }
            }
        }
        Ok(Fields {
            data: &self.data[..nout],
            ends: &self.ends[..nend],
        })
    }
}

#[cfg(test)]
mod tests {
    use super::Splitter;

    #[test]
    fn a_quote_left_open_fails_its_own_line_only() {
        let mut s = Splitter::new();
        let fields = |s: &mut Splitter, line: &[u8]| -> Result<Vec<Vec<u8>>, &'static str> {
            s.split(line)
                .map(|f| f.iter().map(<[u8]>::to_vec).collect())
        };
        let abcd = Ok(vec![b"a".to_vec(), b"b,c\r\n".to_vec(), b"d\"e".to_vec()]);
        assert_eq!(fields(&mut s, b"a,\"b,c\r\n\",\"d\"\"e\"\r\n"), abcd);
        assert_eq!(fields(&mut s, b"a,\"b,c\r\n\",\"d\"\"e\"\n"), abcd);
        assert_eq!(fields(&mut s, b"a,\"b,c\r\n\",\"d\"\"e\""), abcd);
        assert!(fields(&mut s, b"a,\"b,c\r\n").is_err());
        assert!(fields(&mut s, b"a,\"b,c").is_err());
        assert!(fields(&mut s, b"\"a\"\"\n").is_err());
        assert!(fields(&mut s, b"a,b\rc,d\r\n").is_err());
        assert_eq!(
            fields(&mut s, b"x,y"),
            Ok(vec![b"x".to_vec(), b"y".to_vec()])
        );
        let long: Vec<u8> = std::iter::repeat_n(b"ab,".as_slice(), 1000)
            .flatten()
            .copied()
            .collect();
        assert_eq!(fields(&mut s, &long).map(|f| f.len()), Ok(1001));
    }
}
