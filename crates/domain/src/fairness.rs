//! Sharing work fairly between tenants: a round-robin order over queues
//! keyed by account, used to claim background work (calendar syncs) so one
//! account's backlog never goes before everyone else's.

/// `items` (each tenant's in the order given) reordered round-robin by
/// `key`: every key's first item, then every key's second, and so on, keys
/// in order of first appearance; at most `per_key` items of one key and
/// `limit` in all.
pub fn round_robin<T, K: PartialEq>(
    items: impl IntoIterator<Item = T>,
    key: impl Fn(&T) -> K,
    per_key: usize,
    limit: usize,
) -> Vec<T> {
    let mut queues: Vec<(K, std::collections::VecDeque<T>)> = Vec::new();
    for item in items {
        let k = key(&item);
        match queues.iter_mut().find(|(q, _)| *q == k) {
            Some((_, q)) => q.push_back(item),
            None => queues.push((k, std::collections::VecDeque::from([item]))),
        }
    }
    let mut out = Vec::new();
    for _ in 0..per_key {
        let mut any = false;
        for (_, q) in &mut queues {
            if out.len() == limit {
                return out;
            }
            if let Some(item) = q.pop_front() {
                out.push(item);
                any = true;
            }
        }
        if !any {
            break;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::round_robin;

    #[test]
    fn every_key_goes_before_any_keys_next() {
        let items = vec![
            ("a", 1),
            ("a", 2),
            ("a", 3),
            ("b", 1),
            ("a", 4),
            ("c", 1),
            ("b", 2),
        ];
        let all = round_robin(items.clone(), |i| i.0, usize::MAX, usize::MAX);
        assert_eq!(
            all,
            vec![
                ("a", 1),
                ("b", 1),
                ("c", 1),
                ("a", 2),
                ("b", 2),
                ("a", 3),
                ("a", 4)
            ]
        );
        assert_eq!(
            round_robin(items.clone(), |i| i.0, 1, usize::MAX),
            vec![("a", 1), ("b", 1), ("c", 1)]
        );
        assert_eq!(
            round_robin(items, |i| i.0, 2, 4),
            vec![("a", 1), ("b", 1), ("c", 1), ("a", 2)]
        );
    }
}
