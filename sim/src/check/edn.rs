//! A reader for the subset of EDN that Jepsen and Knossos histories use: nil, booleans,
//! integers, floats, strings, keywords, symbols, vectors, lists, maps and sets; `;`
//! comments; commas are whitespace. Errors name the line.

use std::fmt;

/// An EDN value.
#[derive(Clone, Debug, PartialEq)]
pub enum Edn {
    /// `nil`.
    Nil,
    /// `true` / `false`.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A float.
    Float(f64),
    /// A string.
    Str(String),
    /// A keyword, without its colon: `:read` is `Keyword("read")`.
    Keyword(String),
    /// A symbol.
    Symbol(String),
    /// A vector, list or set.
    Seq(Vec<Edn>),
    /// A map, in file order.
    Map(Vec<(Edn, Edn)>),
}

impl Edn {
    /// The value of `:key` in a map.
    pub fn get(&self, key: &str) -> Option<&Edn> {
        match self {
            Edn::Map(pairs) => {
                pairs.iter().find(|(k, _)| matches!(k, Edn::Keyword(name) if name == key)).map(|(_, v)| v)
            }
            _ => None,
        }
    }
}

impl fmt::Display for Edn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Edn::Nil => write!(f, "nil"),
            Edn::Bool(b) => write!(f, "{b}"),
            Edn::Int(i) => write!(f, "{i}"),
            Edn::Float(x) => write!(f, "{x}"),
            Edn::Str(s) => write!(f, "{s:?}"),
            Edn::Keyword(k) => write!(f, ":{k}"),
            Edn::Symbol(s) => write!(f, "{s}"),
            Edn::Seq(items) => {
                write!(f, "[")?;
                for (i, item) in items.iter().enumerate() {
                    write!(f, "{}{item}", if i == 0 { "" } else { " " })?;
                }
                write!(f, "]")
            }
            Edn::Map(pairs) => {
                write!(f, "{{")?;
                for (i, (k, v)) in pairs.iter().enumerate() {
                    write!(f, "{}{k} {v}", if i == 0 { "" } else { ", " })?;
                }
                write!(f, "}}")
            }
        }
    }
}

/// A parse error at a line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EdnError {
    /// 1-based line.
    pub line: usize,
    /// What was wrong.
    pub message: String,
}

/// Reads EDN values one after another from text.
pub struct Reader<'a> {
    text: &'a [u8],
    at: usize,
    line: usize,
}

impl<'a> Reader<'a> {
    /// A reader at the start of `text`, whose first line is `line`.
    pub fn new(text: &'a str, line: usize) -> Reader<'a> {
        Reader { text: text.as_bytes(), at: 0, line }
    }

    /// The line the reader is on.
    pub fn line(&self) -> usize {
        self.line
    }

    fn error<T>(&self, message: impl Into<String>) -> Result<T, EdnError> {
        Err(EdnError { line: self.line, message: message.into() })
    }

    fn skip_space(&mut self) {
        while let Some(&c) = self.text.get(self.at) {
            match c {
                b'\n' => {
                    self.line += 1;
                    self.at += 1;
                }
                b' ' | b'\t' | b'\r' | b',' => self.at += 1,
                b';' => {
                    while self.text.get(self.at).is_some_and(|c| *c != b'\n') {
                        self.at += 1;
                    }
                }
                _ => return,
            }
        }
    }

    /// The next value, or `None` at the end of the text.
    pub fn next_value(&mut self) -> Result<Option<Edn>, EdnError> {
        self.skip_space();
        if self.at >= self.text.len() {
            return Ok(None);
        }
        self.value().map(Some)
    }

    fn value(&mut self) -> Result<Edn, EdnError> {
        self.skip_space();
        let Some(&c) = self.text.get(self.at) else { return self.error("unexpected end of input") };
        match c {
            b'[' | b'(' => {
                self.at += 1;
                Ok(Edn::Seq(self.items(if c == b'[' { b']' } else { b')' })?))
            }
            b'#' if self.text.get(self.at + 1) == Some(&b'{') => {
                self.at += 2;
                Ok(Edn::Seq(self.items(b'}')?))
            }
            b'{' => {
                self.at += 1;
                let items = self.items(b'}')?;
                if items.len() % 2 != 0 {
                    return self.error("a map has an odd number of forms");
                }
                let mut pairs = Vec::with_capacity(items.len() / 2);
                let mut items = items.into_iter();
                while let (Some(k), Some(v)) = (items.next(), items.next()) {
                    pairs.push((k, v));
                }
                Ok(Edn::Map(pairs))
            }
            b'"' => self.string(),
            b']' | b')' | b'}' => self.error(format!("unexpected {:?}", c as char)),
            _ => self.atom(),
        }
    }

    fn items(&mut self, close: u8) -> Result<Vec<Edn>, EdnError> {
        let mut items = Vec::new();
        loop {
            self.skip_space();
            match self.text.get(self.at) {
                None => return self.error(format!("unclosed collection: expected {:?}", close as char)),
                Some(&c) if c == close => {
                    self.at += 1;
                    return Ok(items);
                }
                Some(_) => items.push(self.value()?),
            }
        }
    }

    fn string(&mut self) -> Result<Edn, EdnError> {
        self.at += 1;
        let mut out = Vec::new();
        loop {
            let Some(&c) = self.text.get(self.at) else { return self.error("unclosed string") };
            self.at += 1;
            match c {
                b'"' => break,
                b'\n' => {
                    self.line += 1;
                    out.push(c);
                }
                b'\\' => {
                    let Some(&escaped) = self.text.get(self.at) else { return self.error("unclosed string") };
                    self.at += 1;
                    out.push(match escaped {
                        b'n' => b'\n',
                        b't' => b'\t',
                        b'r' => b'\r',
                        other => other,
                    });
                }
                _ => out.push(c),
            }
        }
        match String::from_utf8(out) {
            Ok(s) => Ok(Edn::Str(s)),
            Err(_) => self.error("a string is not valid UTF-8"),
        }
    }

    fn atom(&mut self) -> Result<Edn, EdnError> {
        let start = self.at;
        while let Some(&c) = self.text.get(self.at) {
            if c.is_ascii_whitespace()
                || matches!(c, b',' | b'[' | b']' | b'(' | b')' | b'{' | b'}' | b'"' | b';')
            {
                break;
            }
            self.at += 1;
        }
        let token = std::str::from_utf8(&self.text[start..self.at]).unwrap_or("");
        if token.is_empty() {
            return self.error("expected a value");
        }
        Ok(match token {
            "nil" => Edn::Nil,
            "true" => Edn::Bool(true),
            "false" => Edn::Bool(false),
            _ if token.starts_with(':') && token.len() > 1 => Edn::Keyword(token[1..].to_owned()),
            _ if token.starts_with(|c: char| c.is_ascii_digit() || c == '-' || c == '+')
                && token.len() > 1
                || token.chars().all(|c| c.is_ascii_digit()) =>
            {
                let digits = token.trim_end_matches('N');
                match digits.parse::<i64>() {
                    Ok(i) => Edn::Int(i),
                    Err(_) => match digits.trim_end_matches('M').parse::<f64>() {
                        Ok(x) => Edn::Float(x),
                        Err(_) if token.starts_with(['-', '+']) => Edn::Symbol(token.to_owned()),
                        Err(_) => return self.error(format!("bad number {token:?}")),
                    },
                }
            }
            _ => Edn::Symbol(token.to_owned()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(text: &str) -> Result<Vec<Edn>, EdnError> {
        let mut reader = Reader::new(text, 1);
        std::iter::from_fn(|| reader.next_value().transpose()).collect()
    }

    #[test]
    fn reads_jepsen_maps() {
        let values = read_all("; a comment\n[{:process 0, :type :invoke, :f :cas, :value [1 2]}\n {:process :nemesis :value nil}]").unwrap();
        let Edn::Seq(ops) = &values[0] else { panic!() };
        assert_eq!(ops[0].get("f"), Some(&Edn::Keyword("cas".into())));
        assert_eq!(ops[0].get("value"), Some(&Edn::Seq(vec![Edn::Int(1), Edn::Int(2)])));
        assert_eq!(ops[1].get("process"), Some(&Edn::Keyword("nemesis".into())));
        let strings = read_all(r#"{:key "0", :value "x 0 \"1\" y"} -3 2.5 sym"#).unwrap();
        assert_eq!(strings[0].get("value"), Some(&Edn::Str("x 0 \"1\" y".into())));
        assert_eq!(&strings[1..], &[Edn::Int(-3), Edn::Float(2.5), Edn::Symbol("sym".into())]);
    }

    #[test]
    fn errors_name_the_line() {
        assert_eq!(read_all("[{:a 1}\n{:b 2\n").unwrap_err().line, 3);
        assert_eq!(read_all("{:a}").unwrap_err().message, "a map has an odd number of forms");
        assert_eq!(read_all("\n\n]").unwrap_err().line, 3);
    }
}
