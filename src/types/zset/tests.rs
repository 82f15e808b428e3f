//! Both encodings against a naive sorted-Vec model.

use proptest::prelude::*;

use super::*;

/// The naive model: a Vec sorted by (score, member).
#[derive(Default)]
struct Model(Vec<(Vec<u8>, f64)>);

impl Model {
    fn upsert(&mut self, m: &[u8], s: f64) {
        self.0.retain(|(x, _)| x != m);
        self.0.push((m.to_vec(), s));
        self.sort();
    }
    fn remove(&mut self, m: &[u8]) -> Option<f64> {
        let i = self.0.iter().position(|(x, _)| x == m)?;
        Some(self.0.remove(i).1)
    }
    fn sort(&mut self) {
        self.0.sort_by(|a, b| {
            a.1.partial_cmp(&b.1)
                .unwrap_or(std::cmp::Ordering::Equal)
                .then_with(|| a.0.cmp(&b.0))
        });
    }
}

#[derive(Debug, Clone)]
enum Op {
    Upsert(u8, i8),
    Remove(u8),
    RemoveRange(u8, u8),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (any::<u8>(), any::<i8>()).prop_map(|(m, s)| Op::Upsert(m, s)),
        1 => any::<u8>().prop_map(Op::Remove),
        1 => (any::<u8>(), 0u8..4).prop_map(|(a, n)| Op::RemoveRange(a, n)),
    ]
}

fn member(m: u8) -> Vec<u8> {
    format!("m{}", m % 64).into_bytes()
}

fn check(z: &ZSetValue, model: &Model) {
    assert_eq!(z.len(), model.0.len());
    let all: Vec<(Vec<u8>, f64)> = z.iter().map(|(m, s)| (m.to_vec(), s)).collect();
    assert_eq!(all, model.0);
    for (i, (m, s)) in model.0.iter().enumerate() {
        assert_eq!(z.rank(m), Some(i));
        assert_eq!(z.score(m), Some(*s));
        assert_eq!(z.at(i).map(|(m, s)| (m.to_vec(), s)), Some((m.clone(), *s)));
    }
    let rev: Vec<_> = z.iter_range(1, 5, true).map(|(m, _)| m.to_vec()).collect();
    let want: Vec<_> = model
        .0
        .iter()
        .take(5)
        .skip(1)
        .rev()
        .map(|(m, _)| m.clone())
        .collect();
    assert_eq!(rev, want);
    for (lo, hi) in [(-3.0, 3.0), (0.0, 0.0), (-200.0, -100.0)] {
        let r = ScoreRange {
            min: lo,
            max: hi,
            minex: false,
            maxex: true,
        };
        let (a, b) = z.score_window(&r);
        let n = model.0.iter().filter(|(_, s)| *s >= lo && *s < hi).count();
        assert_eq!(b - a, n);
    }
}

fn run(ops: &[Op], lim: Limits) {
    let mut z = ZSetValue::new_for(0, lim);
    let mut model = Model::default();
    for op in ops {
        match op {
            Op::Upsert(m, s) => {
                let added = z.upsert(&member(*m), f64::from(*s), lim);
                assert_eq!(added, model.0.iter().all(|(x, _)| *x != member(*m)));
                model.upsert(&member(*m), f64::from(*s));
            }
            Op::Remove(m) => assert_eq!(z.remove(&member(*m)), model.remove(&member(*m))),
            Op::RemoveRange(a, n) => {
                let start = usize::from(*a) % (model.0.len() + 1);
                let end = (start + usize::from(*n)).min(model.0.len());
                assert_eq!(z.remove_range(start, end), end - start);
                model.0.drain(start..end);
            }
        }
        check(&z, &model);
    }
}

proptest! {
    #[test]
    fn skiplist_matches_model(ops in proptest::collection::vec(op(), 1..200)) {
        run(&ops, Limits { max_entries: 0, max_value: 64 });
    }

    #[test]
    fn listpack_and_conversion_match_model(ops in proptest::collection::vec(op(), 1..200)) {
        run(&ops, Limits { max_entries: 16, max_value: 64 });
    }
}

#[test]
fn conversion_thresholds() {
    let lim = Limits::default();
    let mut z = ZSetValue::new_for(1, lim);
    for i in 0..128 {
        z.upsert(format!("{i}").as_bytes(), f64::from(i), lim);
    }
    assert_eq!(z.encoding(), "listpack");
    z.upsert(b"x", 1.0, lim);
    assert_eq!(z.encoding(), "skiplist");
    let mut z = ZSetValue::new_for(1, lim);
    z.upsert(&[b'a'; 65], 1.0, lim);
    assert_eq!(z.encoding(), "skiplist");
    z.remove(&[b'a'; 65]);
    z.upsert(b"a", 1.0, lim);
    z.shrink_if_small(lim);
    assert_eq!(z.encoding(), "listpack");
}

#[test]
fn listpack_normalizes_negative_zero() {
    let lim = Limits::default();
    let mut z = ZSetValue::new_for(1, lim);
    z.upsert(b"a", -0.0, lim);
    assert!(z.score(b"a").is_some_and(|s| s.is_sign_positive()));
    z.convert_to_skiplist();
    z.upsert(b"b", -0.0, lim);
    assert!(z.score(b"b").is_some_and(|s| s.is_sign_negative()));
}

#[test]
fn lex_ranges() {
    let r = LexRange::parse(b"[b", b"(d").expect("valid");
    let z = ZSetValue::from_pairs(
        vec![
            (b"a".to_vec(), 0.0),
            (b"b".to_vec(), 0.0),
            (b"c".to_vec(), 0.0),
            (b"d".to_vec(), 0.0),
        ],
        Limits::default(),
    );
    assert_eq!(z.lex_window(&r), (1, 3));
    assert!(LexRange::parse(b"b", b"+").is_err());
}

#[test]
fn strtod_rules() {
    assert_eq!(range::strtod_whole(b""), Some(0.0));
    assert_eq!(range::strtod_whole(b" 1"), Some(1.0));
    assert_eq!(range::strtod_whole(b"0x10"), Some(16.0));
    assert_eq!(range::strtod_whole(b"1e400"), Some(f64::INFINITY));
    assert_eq!(range::strtod_whole(b"-inf"), Some(f64::NEG_INFINITY));
    assert_eq!(range::strtod_whole(b"nan"), None);
    assert_eq!(range::strtod_whole(b"1 "), None);
    assert_eq!(range::strtod_whole(b"  "), None);
}

#[test]
fn scan_visits_everything() {
    let lim = Limits {
        max_entries: 0,
        max_value: 64,
    };
    let mut z = ZSetValue::new_for(0, lim);
    for i in 0..100 {
        z.upsert(format!("{i}").as_bytes(), f64::from(i), lim);
    }
    let ZSetValue::Skiplist(s) = &z else {
        panic!("expected skiplist")
    };
    let mut seen = 0;
    let mut cur = 0;
    loop {
        cur = s.scan(cur, 7, |_, _| seen += 1);
        if cur == 0 {
            break;
        }
    }
    assert_eq!(seen, 100);
}
