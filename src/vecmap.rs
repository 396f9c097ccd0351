//! A small sorted-`Vec` map with the `BTreeMap` methods this crate uses, and a small set.
//!
//! Why: every `BTreeMap<K, V>` type pulls its own copy of the B-tree code into the wasm
//! (~5–8 KB raw per key/value type); these maps hold at most a few thousand entries (parts,
//! headers), where a binary search over a sorted `Vec` is as fast and the code is a few hundred
//! bytes per type.

use std::borrow::Borrow;

/// A map kept sorted by key: iteration is in key order, like `BTreeMap`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VecMap<K, V> {
    entries: Vec<(K, V)>,
}

impl<K, V> Default for VecMap<K, V> {
    fn default() -> Self {
        VecMap { entries: Vec::new() }
    }
}

impl<K: Ord, V> VecMap<K, V> {
    pub fn new() -> Self {
        VecMap { entries: Vec::new() }
    }

    fn find<Q: Ord + ?Sized>(&self, key: &Q) -> Result<usize, usize>
    where
        K: Borrow<Q>,
    {
        self.entries.binary_search_by(|(k, _)| k.borrow().cmp(key))
    }

    /// Inserts or replaces; returns the value replaced.
    pub fn insert(&mut self, key: K, value: V) -> Option<V> {
        match self.find(&key) {
            Ok(at) => Some(std::mem::replace(&mut self.entries[at].1, value)),
            Err(at) => {
                self.entries.insert(at, (key, value));
                None
            }
        }
    }

    pub fn get<Q: Ord + ?Sized>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
    {
        self.find(key).ok().map(|at| &self.entries[at].1)
    }

    pub fn contains_key<Q: Ord + ?Sized>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
    {
        self.find(key).is_ok()
    }

    pub fn remove<Q: Ord + ?Sized>(&mut self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
    {
        self.find(key).ok().map(|at| self.entries.remove(at).1)
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn clear(&mut self) {
        self.entries.clear()
    }

    /// Entries in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        self.entries.iter().map(|(k, v)| (k, v))
    }

    pub fn keys(&self) -> impl Iterator<Item = &K> {
        self.entries.iter().map(|(k, _)| k)
    }

    pub fn values(&self) -> impl Iterator<Item = &V> {
        self.entries.iter().map(|(_, v)| v)
    }
}

impl<K: Ord, V> FromIterator<(K, V)> for VecMap<K, V> {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(items: I) -> Self {
        let mut map = VecMap::new();
        map.extend(items);
        map
    }
}

impl<K: Ord, V> Extend<(K, V)> for VecMap<K, V> {
    fn extend<I: IntoIterator<Item = (K, V)>>(&mut self, items: I) {
        for (k, v) in items {
            self.insert(k, v);
        }
    }
}

impl<K, V> IntoIterator for VecMap<K, V> {
    type Item = (K, V);
    type IntoIter = std::vec::IntoIter<(K, V)>;
    fn into_iter(self) -> Self::IntoIter {
        self.entries.into_iter()
    }
}

impl<'a, K, V> IntoIterator for &'a VecMap<K, V> {
    type Item = (&'a K, &'a V);
    type IntoIter = std::iter::Map<std::slice::Iter<'a, (K, V)>, fn(&'a (K, V)) -> (&'a K, &'a V)>;
    fn into_iter(self) -> Self::IntoIter {
        self.entries.iter().map(|(k, v)| (k, v))
    }
}

/// Sorts `items` so that no item comes after one it goes `before`, keeping the order of items
/// that neither goes before (stable, as `sort_by`). An insertion sort: the lists sorted here are
/// short or already sorted but for the last item, and core's merge sort is more code.
pub fn sort_by<T>(items: &mut [T], before: impl Fn(&T, &T) -> bool) {
    for i in 1..items.len() {
        let mut j = i;
        while j > 0 && before(&items[j], &items[j - 1]) {
            items.swap(j - 1, j);
            j -= 1;
        }
    }
}

/// A set of a few strings (the records a page's uploads hold), in no particular order: a linear
/// search is less code than a sorted `Vec`'s binary search and insertion, and one search by
/// `&str` serves every method.
#[derive(Debug, Default)]
pub struct VecSet<T> {
    items: Vec<T>,
}

impl<T: Borrow<str>> VecSet<T> {
    pub const fn new() -> Self {
        VecSet { items: Vec::new() }
    }
    fn position(&self, item: &str) -> Option<usize> {
        self.items.iter().position(|i| i.borrow() == item)
    }
    /// Adds `item`; false if it was there already.
    pub fn insert(&mut self, item: T) -> bool {
        let new = self.position(item.borrow()).is_none();
        if new {
            self.items.push(item);
        }
        new
    }
    pub fn contains(&self, item: &str) -> bool {
        self.position(item).is_some()
    }
    /// Removes `item`; false if it was not there.
    pub fn remove(&mut self, item: &str) -> bool {
        let at = self.position(item);
        if let Some(at) = at {
            self.items.swap_remove(at);
        }
        at.is_some()
    }
    pub fn len(&self) -> usize {
        self.items.len()
    }
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
    pub fn iter(&self) -> impl Iterator<Item = &T> {
        self.items.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn map_keeps_keys_sorted_and_unique() {
        let mut map = VecMap::new();
        for (k, v) in [(5u32, "e"), (1, "a"), (3, "c"), (4, "d"), (2, "b")] {
            assert_eq!(map.insert(k, v), None);
        }
        assert_eq!(map.insert(3, "C"), Some("c"));
        assert_eq!(map.keys().copied().collect::<Vec<_>>(), vec![1, 2, 3, 4, 5]);
        assert_eq!(map.values().copied().collect::<Vec<_>>(), vec!["a", "b", "C", "d", "e"]);
        assert_eq!((map.get(&3), map.get(&6), map.contains_key(&1), map.len()), (Some(&"C"), None, true, 5));
        assert_eq!((map.remove(&1), map.remove(&1)), (Some("a"), None));
        assert_eq!(map.iter().map(|(k, _)| *k).collect::<Vec<_>>(), vec![2, 3, 4, 5]);
        let collected: VecMap<u32, &str> = [(9, "x"), (7, "y"), (9, "z")].into_iter().collect();
        assert_eq!(collected.into_iter().collect::<Vec<_>>(), vec![(7, "y"), (9, "z")]);
        map.clear();
        assert!(map.is_empty());
    }

    #[test]
    fn sorts_as_sort_by_does() {
        // Pairs sorted by their first item alone: the second shows that equal ones keep their order.
        let mut seed = 7u32;
        for len in 0..40 {
            let mut items: Vec<(u32, usize)> = (0..len)
                .map(|i| {
                    seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                    (seed >> 16 & 7, i)
                })
                .collect();
            let mut expected = items.clone();
            expected.sort_by_key(|item| std::cmp::Reverse(item.0));
            sort_by(&mut items, |a, b| a.0 > b.0);
            assert_eq!(items, expected);
        }
    }

    #[test]
    fn string_keys_are_looked_up_by_str() {
        let mut map: VecMap<String, String> = VecMap::new();
        map.insert("b".into(), "2".into());
        map.insert("a".into(), "1".into());
        assert_eq!(map.get("a").map(String::as_str), Some("1"));
        assert_eq!(map.remove("b").as_deref(), Some("2"));
        let mut set = VecSet::new();
        assert!(set.insert("x".to_string()) && !set.insert("x".to_string()) && set.insert("w".to_string()));
        assert!(set.contains("x") && set.remove("x") && !set.remove("x") && set.len() == 1);
        assert_eq!(set.iter().collect::<Vec<_>>(), vec!["w"]);
    }
}
