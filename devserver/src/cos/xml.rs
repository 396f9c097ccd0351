//! A small XML writer for COS responses, and the CompleteMultipartUpload body parser.

use quick_xml::escape::{escape, resolve_predefined_entity};
use quick_xml::events::Event;
use quick_xml::Reader;

/// Writes `<?xml …?><Root>…</Root>` with escaped text.
pub struct Xml {
    out: String,
    stack: Vec<&'static str>,
}

impl Xml {
    pub fn new(root: &'static str) -> Xml {
        let mut xml = Xml { out: String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"), stack: Vec::new() };
        xml.open(root);
        xml
    }

    pub fn open(&mut self, tag: &'static str) -> &mut Xml {
        self.out.push('<');
        self.out.push_str(tag);
        self.out.push('>');
        self.stack.push(tag);
        self
    }

    pub fn close(&mut self) -> &mut Xml {
        if let Some(tag) = self.stack.pop() {
            self.out.push_str("</");
            self.out.push_str(tag);
            self.out.push('>');
        }
        self
    }

    /// `<tag>text</tag>`, or `<tag/>` when `text` is empty (as COS writes empty markers).
    pub fn leaf(&mut self, tag: &str, text: &str) -> &mut Xml {
        if text.is_empty() {
            self.out.push_str(&format!("<{tag}/>"));
        } else {
            self.out.push_str(&format!("<{tag}>{}</{tag}>", escape(text)));
        }
        self
    }

    pub fn finish(mut self) -> String {
        while !self.stack.is_empty() {
            self.close();
        }
        self.out
    }
}

/// Parses `<CompleteMultipartUpload><Part><PartNumber>N</PartNumber><ETag>"…"</ETag></Part>…`
/// into `(number, etag)` in document order; `None` when the body is not that document.
pub fn parse_complete(body: &str) -> Option<Vec<(u32, Option<String>)>> {
    let mut reader = Reader::from_str(body);
    reader.config_mut().trim_text(true);
    let mut path: Vec<String> = Vec::new();
    let mut text = String::new();
    let mut parts = Vec::new();
    let mut number: Option<u32> = None;
    let mut etag: Option<String> = None;
    let mut saw_root = false;
    loop {
        match reader.read_event().ok()? {
            Event::Start(e) => {
                let name = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
                match (path.len(), name.as_str()) {
                    (0, "CompleteMultipartUpload") => saw_root = true,
                    (0, _) => return None,
                    (1, "Part") => {
                        number = None;
                        etag = None;
                    }
                    _ => {}
                }
                path.push(name);
                text.clear();
            }
            // `<CompleteMultipartUpload/>`: well-formed but lists no part.
            Event::Empty(e) if path.is_empty() => saw_root = e.local_name().as_ref() == b"CompleteMultipartUpload",
            Event::Text(t) => text.push_str(&t.decode().ok()?),
            Event::CData(t) => text.push_str(&t.decode().ok()?),
            Event::GeneralRef(r) => match r.resolve_char_ref().ok()? {
                Some(c) => text.push(c),
                None => text.push_str(resolve_predefined_entity(&r.decode().ok()?)?),
            },
            Event::End(_) => {
                let name = path.pop()?;
                match (path.len(), name.as_str()) {
                    (2, "PartNumber") => number = Some(text.trim().parse().ok()?),
                    (2, "ETag") => etag = Some(text.trim().to_string()),
                    (1, "Part") => parts.push((number?, etag.take())),
                    _ => {}
                }
                text.clear();
            }
            Event::Eof => break,
            _ => {}
        }
    }
    (saw_root && path.is_empty()).then_some(parts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_python_and_node_bodies() {
        // docs/cos-api.md §2.8 (Python's body); node sends the same without the declaration.
        let py = r#"<?xml version="1.0" encoding="utf-8"?><CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>&quot;6c2806f316d4f77a65cad508fd66cfe7&quot;</ETag></Part><Part><PartNumber>2</PartNumber><ETag>&quot;9aaa539591ba43ca217a3de989234a7a&quot;</ETag></Part></CompleteMultipartUpload>"#;
        let parts = parse_complete(py).unwrap();
        assert_eq!(
            parts,
            vec![
                (1, Some("\"6c2806f316d4f77a65cad508fd66cfe7\"".to_string())),
                (2, Some("\"9aaa539591ba43ca217a3de989234a7a\"".to_string())),
            ]
        );
        let node = "<CompleteMultipartUpload>\n  <Part>\n <PartNumber>3</PartNumber>\n<ETag>\"ab\"</ETag></Part></CompleteMultipartUpload>";
        assert_eq!(parse_complete(node).unwrap(), vec![(3, Some("\"ab\"".to_string()))]);
        assert!(parse_complete("<Other/>").is_none());
        assert!(parse_complete(
            "<CompleteMultipartUpload><Part><PartNumber>x</PartNumber></Part></CompleteMultipartUpload>"
        )
        .is_none());
        assert!(parse_complete("<CompleteMultipartUpload><Part>").is_none());
    }

    #[test]
    fn writes_escaped_xml() {
        let mut xml = Xml::new("R");
        xml.leaf("K", "a<b&\"").leaf("E", "").open("C").leaf("X", "1").close();
        assert_eq!(
            xml.finish(),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<R><K>a&lt;b&amp;&quot;</K><E/><C><X>1</X></C></R>"
        );
    }
}
