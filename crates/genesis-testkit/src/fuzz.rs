//! Structure-aware changes for the property tests of parsers of untrusted input: start from a
//! real document, then change one node (replace it with another value, remove it, or add a
//! member to an object) or damage its bytes, and check that the parser still answers cleanly.

use base64::Engine as _;
use proptest::prelude::*;
use serde_json::Value;

/// A JSON value of any kind, as a hostile document may hold where another was expected:
/// every scalar type, base64 text, and small arrays and objects of them.
pub fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        r"\PC{0,24}".prop_map(Value::from),
        prop::collection::vec(any::<u8>(), 0..96)
            .prop_map(|bytes| Value::from(base64::engine::general_purpose::STANDARD.encode(bytes))),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-zA-Z]{1,8}", inner, 0..4)
                .prop_map(|fields| Value::Object(fields.into_iter().collect())),
        ]
    })
}

/// One change to a document: the node at a position (in document order, modulo the number
/// of nodes) replaced by another value or removed from its parent, or a member added to an
/// object.
#[derive(Debug, Clone)]
pub enum Edit {
    /// Put this value there.
    Replace(prop::sample::Index, Value),
    /// Remove the node (a field, or an item of an array).
    Remove(prop::sample::Index),
    /// Add a member of this name and value to an object (the root counts; a position modulo
    /// the number of objects): a field the document's schema may not know, or one it has,
    /// set again.
    Add(prop::sample::Index, String, Value),
}

/// Any [`Edit`] of what the document holds, replacements three times as often as removals.
pub fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        3 => (any::<prop::sample::Index>(), json_value()).prop_map(|(at, value)| Edit::Replace(at, value)),
        1 => any::<prop::sample::Index>().prop_map(Edit::Remove),
    ]
}

/// An [`Edit::Add`] of a member with a short ASCII name and any [`json_value`]: for parsers
/// that must refuse, or ignore, fields they do not know.
pub fn addition() -> impl Strategy<Value = Edit> {
    (any::<prop::sample::Index>(), "[a-zA-Z]{1,10}", json_value())
        .prop_map(|(at, name, value)| Edit::Add(at, name, value))
}

impl Edit {
    /// Applies the edit to `doc` and returns the JSON pointer of the node it changed or
    /// added (empty when the document has no node the edit applies to).
    pub fn apply(&self, doc: &mut Value) -> String {
        fn pick(among: &[String], at: &prop::sample::Index) -> Option<String> {
            (!among.is_empty()).then(|| among[at.index(among.len())].clone())
        }
        let nodes = pointers(doc);
        match self {
            Edit::Replace(at, value) => {
                let Some(pointer) = pick(&nodes, at) else { return String::new() };
                *doc.pointer_mut(&pointer).expect("a node of the document") = value.clone();
                pointer
            }
            Edit::Remove(at) => {
                let Some(pointer) = pick(&nodes, at) else { return String::new() };
                remove(doc, &pointer);
                pointer
            }
            Edit::Add(at, name, value) => {
                let objects: Vec<String> = std::iter::once(String::new())
                    .chain(nodes)
                    .filter(|pointer| doc.pointer(pointer).is_some_and(Value::is_object))
                    .collect();
                let Some(object) = pick(&objects, at) else { return String::new() };
                let fields =
                    doc.pointer_mut(&object).and_then(Value::as_object_mut).expect("an object of the document");
                fields.insert(name.clone(), value.clone());
                format!("{object}/{}", escape(name))
            }
        }
    }
}

/// The JSON pointer of every node below the root, in document order.
fn pointers(doc: &Value) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![(String::new(), doc)];
    while let Some((here, node)) = stack.pop() {
        match node {
            Value::Array(items) => {
                stack.extend(items.iter().enumerate().rev().map(|(i, item)| (format!("{here}/{i}"), item)));
            }
            Value::Object(fields) => {
                stack.extend(fields.iter().rev().map(|(k, item)| (format!("{here}/{}", escape(k)), item)));
            }
            _ => {}
        }
        if !here.is_empty() {
            out.push(here);
        }
    }
    out
}

/// `key` as one token of a JSON pointer (RFC 6901).
fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

fn remove(doc: &mut Value, pointer: &str) {
    let (parent, last) = pointer.rsplit_once('/').expect("a pointer below the root");
    let key = last.replace("~1", "/").replace("~0", "~");
    match doc.pointer_mut(parent) {
        Some(Value::Object(fields)) => {
            fields.remove(&key);
        }
        Some(Value::Array(items)) => {
            if let Some(i) = key.parse::<usize>().ok().filter(|i| *i < items.len()) {
                items.remove(i);
            }
        }
        _ => {}
    }
}

/// One to four bytes overwritten or inserted, then maybe a cut: what a transfer, a disk or
/// an attacker does to a file. Positions are taken modulo the length at the time, so one
/// damage applies to bytes of any length.
#[derive(Debug, Clone)]
pub struct Damage {
    /// Where, which byte, and whether it is inserted (else it overwrites).
    bytes: Vec<(prop::sample::Index, u8, bool)>,
    /// Where the bytes are cut short, if they are.
    cut: Option<prop::sample::Index>,
}

/// Any [`Damage`]: for bytes a property computes from its other inputs.
pub fn damage() -> impl Strategy<Value = Damage> {
    let bytes = prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), any::<bool>()), 1..5);
    (bytes, proptest::option::of(any::<prop::sample::Index>())).prop_map(|(bytes, cut)| Damage { bytes, cut })
}

impl Damage {
    /// Damages `bytes` in place.
    pub fn apply(&self, bytes: &mut Vec<u8>) {
        for &(at, byte, insert) in &self.bytes {
            let i = at.index(bytes.len() + 1);
            if insert || i == bytes.len() {
                bytes.insert(i, byte);
            } else {
                bytes[i] = byte;
            }
        }
        if let Some(at) = self.cut {
            bytes.truncate(at.index(bytes.len() + 1));
        }
    }
}

/// `bytes` with any [`Damage`].
pub fn damaged(bytes: Vec<u8>) -> impl Strategy<Value = Vec<u8>> {
    damage().prop_map(move |damage| {
        let mut out = bytes.clone();
        damage.apply(&mut out);
        out
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn edits_reach_every_node_and_remove_fields_and_items() {
        let doc = serde_json::json!({"a": [1, {"b/c": 2}], "d": "e"});
        assert_eq!(pointers(&doc), ["/a", "/a/0", "/a/1", "/a/1/b~1c", "/d"]);
        let mut removed = doc.clone();
        remove(&mut removed, "/a/1/b~1c");
        remove(&mut removed, "/a/0");
        assert_eq!(removed, serde_json::json!({"a": [{}], "d": "e"}));
    }

    #[test]
    fn an_addition_goes_to_an_object_the_root_included_and_names_the_new_member() {
        use proptest::strategy::ValueTree as _;
        let mut runner = proptest::test_runner::TestRunner::deterministic();
        let at = any::<prop::sample::Index>().new_tree(&mut runner).unwrap().current();
        // Documents with one object or none, so any position picks the same.
        for (mut doc, pointer, added) in [
            (json!({"a": [1]}), "/x~1y", json!({"a": [1], "x/y": null})),
            (json!([1, {"b": 2}]), "/1/x~1y", json!([1, {"b": 2, "x/y": null}])),
            (json!([1, 2]), "", json!([1, 2])),
        ] {
            assert_eq!(Edit::Add(at, "x/y".into(), Value::Null).apply(&mut doc), pointer);
            assert_eq!(doc, added);
        }
    }
}
