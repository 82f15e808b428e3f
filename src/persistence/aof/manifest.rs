//! The multi-part AOF manifest of Redis 7.0 (`<appendfilename>.manifest`
//! inside `appenddirname`): one line per file,
//! `file <name> seq <n> type <b|h|i>`, the base first, then history, then
//! the incr files in increasing sequence. Parsing and printing only; the
//! file I/O (temp file + fsync + rename, so a crash leaves either the old
//! or the new manifest) lives in `persist`.

use std::io::Write;
use std::path::Path;

/// Longest manifest line Redis accepts (MANIFEST_MAX_LINE).
const MAX_LINE: usize = 1024;

/// What a listed file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Base,
    History,
    Incr,
}

impl Kind {
    fn letter(self) -> char {
        match self {
            Kind::Base => 'b',
            Kind::History => 'h',
            Kind::Incr => 'i',
        }
    }
}

/// One listed file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AofInfo {
    pub name: String,
    pub seq: u64,
    pub kind: Kind,
}

/// The whole manifest.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Manifest {
    pub base: Option<AofInfo>,
    pub incrs: Vec<AofInfo>,
    pub history: Vec<AofInfo>,
    /// Sequence of the current base (0 when none was ever created).
    pub base_seq: u64,
    /// Sequence of the last incr file.
    pub incr_seq: u64,
}

/// Split a manifest line into words, honouring double quotes (Redis quotes
/// names that need escaping).
fn split_words(line: &str) -> Option<Vec<String>> {
    let mut out = Vec::new();
    let mut chars = line.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let Some(&c) = chars.peek() else {
            return Some(out);
        };
        let mut w = String::new();
        if c == '"' {
            chars.next();
            loop {
                match chars.next()? {
                    '"' => break,
                    '\\' => match chars.next()? {
                        'n' => w.push('\n'),
                        'r' => w.push('\r'),
                        't' => w.push('\t'),
                        'a' => w.push('\u{7}'),
                        'b' => w.push('\u{8}'),
                        'x' => {
                            let h: String = [chars.next()?, chars.next()?].iter().collect();
                            w.push(char::from(u8::from_str_radix(&h, 16).ok()?));
                        }
                        c => w.push(c),
                    },
                    c => w.push(c),
                }
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() {
                    break;
                }
                w.push(c);
                chars.next();
            }
        }
        out.push(w);
    }
}

/// `file <name> seq <n> type <t>` (keys in any order, unknown ones
/// ignored for forward compatibility).
fn parse_line(raw: &str) -> Result<(String, u64, char), &'static str> {
    let words = split_words(raw.trim()).unwrap_or_default();
    if words.len() < 6 || !words.len().is_multiple_of(2) {
        return Err("Invalid AOF manifest file format");
    }
    let (mut name, mut seq, mut kind) = (None, 0u64, None);
    for kv in words.chunks(2) {
        match kv[0].to_ascii_lowercase().as_str() {
            "file" => {
                if kv[1].contains('/') {
                    return Err("File can't be a path, just a filename");
                }
                name = Some(kv[1].clone());
            }
            "seq" => seq = kv[1].parse().unwrap_or(0),
            "type" => kind = kv[1].chars().next(),
            _ => {}
        }
    }
    match (name, seq != 0, kind) {
        (Some(name), true, Some(kind)) => Ok((name, seq, kind)),
        _ => Err("Invalid AOF manifest file format"),
    }
}

impl Manifest {
    /// Parse manifest text; errors use Redis's wording.
    pub fn parse(text: &str) -> Result<Manifest, String> {
        let mut m = Manifest::default();
        let mut lines = 0;
        for (i, raw) in text.split_inclusive('\n').enumerate() {
            lines += 1;
            if raw.starts_with('#') {
                continue;
            }
            let fail = |e: &str| format!("Reading the manifest file, at line {}: {e}", i + 1);
            if raw.len() > MAX_LINE {
                return Err(fail("The AOF manifest file contains too long line"));
            }
            if !raw.ends_with('\n') {
                return Err(fail("Invalid AOF manifest file format"));
            }
            let (name, seq, kind) = parse_line(raw).map_err(fail)?;
            match kind {
                'b' => {
                    if m.base.is_some() {
                        return Err(fail("Found duplicate base file information"));
                    }
                    m.base_seq = seq;
                    m.base = Some(AofInfo {
                        name,
                        seq,
                        kind: Kind::Base,
                    });
                }
                'h' => m.history.push(AofInfo {
                    name,
                    seq,
                    kind: Kind::History,
                }),
                'i' => {
                    if seq <= m.incr_seq {
                        return Err(fail("Found a non-monotonic sequence number"));
                    }
                    m.incr_seq = seq;
                    m.incrs.push(AofInfo {
                        name,
                        seq,
                        kind: Kind::Incr,
                    });
                }
                _ => return Err(fail("Unknown AOF file type")),
            }
        }
        if lines == 0 {
            return Err("Found an empty AOF manifest".into());
        }
        Ok(m)
    }

    /// The manifest text: base, history, incr files.
    pub fn format(&self) -> String {
        let mut out = String::new();
        let all = self.base.iter().chain(&self.history).chain(&self.incrs);
        for ai in all {
            let odd = |c: char| c.is_whitespace() || c.is_control() || c == '"' || c == '\\';
            let name = if ai.name.contains(odd) {
                repr(&ai.name)
            } else {
                ai.name.clone()
            };
            out.push_str(&format!(
                "file {name} seq {} type {}\n",
                ai.seq,
                ai.kind.letter()
            ));
        }
        out
    }

    /// Files to load, in order: base then incr files.
    pub fn load_order(&self) -> impl Iterator<Item = &AofInfo> {
        self.base.iter().chain(&self.incrs)
    }

    /// Add a new incr file and return its name.
    pub fn new_incr(&mut self, filename: &str) -> String {
        self.incr_seq += 1;
        let name = format!("{filename}.{}.incr.aof", self.incr_seq);
        self.incrs.push(AofInfo {
            name: name.clone(),
            seq: self.incr_seq,
            kind: Kind::Incr,
        });
        name
    }

    /// Install a new base file (after a rewrite): the old base and every
    /// incr file with `seq < keep_from` become history. Returns the name.
    pub fn new_base(&mut self, filename: &str, rdb: bool, keep_from: u64) -> String {
        self.base_seq += 1;
        let ext = if rdb { "rdb" } else { "aof" };
        let name = format!("{filename}.{}.base.{ext}", self.base_seq);
        // Newest history first, as Redis lists it: the old base, then each
        // rewritten incr file, are added at the head.
        if let Some(mut old) = self.base.take() {
            old.kind = Kind::History;
            self.history.insert(0, old);
        }
        let (old, keep): (Vec<_>, Vec<_>) = std::mem::take(&mut self.incrs)
            .into_iter()
            .partition(|ai| ai.seq < keep_from);
        self.incrs = keep;
        for mut ai in old {
            ai.kind = Kind::History;
            self.history.insert(0, ai);
        }
        self.base = Some(AofInfo {
            name: name.clone(),
            seq: self.base_seq,
            kind: Kind::Base,
        });
        name
    }
}

/// Quote a name as Redis's sdscatrepr does.
fn repr(s: &str) -> String {
    crate::util::split::repr(s.as_bytes())
}

/// Write `text` as `dir/name` atomically: temp file, fsync, rename, fsync
/// of the directory (Redis's writeAofManifestFile).
pub fn persist(dir: &Path, name: &str, text: &str) -> std::io::Result<()> {
    let tmp = dir.join(format!("temp-{name}"));
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(text.as_bytes())?;
    f.sync_all()?;
    std::fs::rename(&tmp, dir.join(name))?;
    sync_dir(dir)
}

/// fsync a directory so a rename in it is durable.
pub fn sync_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_format_round_trip() {
        let text = "file appendonly.aof.2.base.rdb seq 2 type b\n\
                    file appendonly.aof.1.incr.aof seq 1 type h\n\
                    file appendonly.aof.3.incr.aof seq 3 type i\n\
                    file appendonly.aof.4.incr.aof seq 4 type i\n";
        let m = Manifest::parse(text).expect("valid");
        assert_eq!(m.base_seq, 2);
        assert_eq!(m.incr_seq, 4);
        assert_eq!(m.format(), text);
    }

    #[test]
    fn errors_like_redis() {
        assert!(Manifest::parse("").unwrap_err().contains("empty"));
        let e = Manifest::parse("file a seq 1\n").unwrap_err();
        assert!(e.contains("Invalid AOF manifest file format"), "{e}");
        let e = Manifest::parse("file a seq 2 type i\nfile b seq 1 type i\n").unwrap_err();
        assert!(e.contains("non-monotonic"), "{e}");
        let e = Manifest::parse("file a/b seq 2 type i\n").unwrap_err();
        assert!(e.contains("path"), "{e}");
        let e = Manifest::parse("file a seq 1 type b\nfile b seq 2 type b\n").unwrap_err();
        assert!(e.contains("duplicate base"), "{e}");
        let e = Manifest::parse("file a seq 1 type x\n").unwrap_err();
        assert!(e.contains("Unknown AOF file type"), "{e}");
        let e = Manifest::parse("file a seq 1 type b").unwrap_err();
        assert!(e.contains("Invalid"), "{e}");
    }

    #[test]
    fn rewrite_moves_old_files_to_history() {
        let mut m = Manifest::default();
        m.new_base("a.aof", true, 0);
        m.new_incr("a.aof");
        let keep = m.incr_seq + 1;
        m.new_incr("a.aof");
        let base = m.new_base("a.aof", true, keep);
        assert_eq!(base, "a.aof.2.base.rdb");
        assert_eq!(m.incrs.len(), 1);
        assert_eq!(m.incrs[0].name, "a.aof.2.incr.aof");
        assert_eq!(m.history.len(), 2);
    }

    #[test]
    fn quoted_names() {
        let mut m = Manifest::default();
        m.incrs.push(AofInfo {
            name: "a b".into(),
            seq: 1,
            kind: Kind::Incr,
        });
        m.incr_seq = 1;
        let again = Manifest::parse(&m.format()).expect("valid");
        assert_eq!(again, m);
    }

    proptest::proptest! {
        #[test]
        fn garbage_never_panics(s in "\\PC*") {
            let _ = Manifest::parse(&s);
        }
    }
}
