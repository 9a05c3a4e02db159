//! Finding a cycle among steps, so a workflow that could never finish is refused when it is built.

/// A cycle in the graph whose node `n` depends on the nodes `dependencies[n]`, as the nodes along it with the
/// first repeated at the end (`[a, b, a]`), or `None` if there is none. Nodes are visited in index order, so the
/// cycle reported is always the same one.
///
/// The depth-first search keeps its own stack rather than recursing, so a long chain of steps cannot overflow
/// the thread's stack.
pub(crate) fn find_cycle(dependencies: &[Vec<usize>]) -> Option<Vec<usize>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        Unvisited,
        OnPath,
        Done,
    }
    let mut marks = vec![Mark::Unvisited; dependencies.len()];
    for root in 0..dependencies.len() {
        if marks[root] != Mark::Unvisited {
            continue;
        }
        // The current path, each node with the index of the next dependency to look at.
        let mut path: Vec<(usize, usize)> = vec![(root, 0)];
        marks[root] = Mark::OnPath;
        while let Some((node, next)) = path.last_mut() {
            let node = *node;
            let Some(&dependency) = dependencies[node].get(*next) else {
                marks[node] = Mark::Done;
                path.pop();
                continue;
            };
            *next += 1;
            match marks[dependency] {
                Mark::Done => {}
                Mark::Unvisited => {
                    marks[dependency] = Mark::OnPath;
                    path.push((dependency, 0));
                }
                Mark::OnPath => {
                    let start = path.iter().position(|&(on_path, _)| on_path == dependency).unwrap_or(0);
                    let mut cycle: Vec<usize> = path[start..].iter().map(|&(on_path, _)| on_path).collect();
                    cycle.push(dependency);
                    return Some(cycle);
                }
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::find_cycle;

    #[test]
    fn a_dag_has_no_cycle() {
        // 3 depends on 1 and 2, which depend on 0: a diamond.
        assert_eq!(find_cycle(&[vec![], vec![0], vec![0], vec![1, 2]]), None);
    }

    #[test]
    fn a_cycle_is_reported_along_its_path() {
        // 0 -> 1 -> 2 -> 1
        assert_eq!(find_cycle(&[vec![1], vec![2], vec![1]]), Some(vec![1, 2, 1]));
    }

    #[test]
    fn a_self_dependency_is_a_cycle() {
        assert_eq!(find_cycle(&[vec![], vec![1]]), Some(vec![1, 1]));
    }

    #[test]
    fn a_long_chain_does_not_overflow_the_stack() {
        let chain: Vec<Vec<usize>> = (0..200_000).map(|node| if node == 0 { vec![] } else { vec![node - 1] }).collect();
        assert_eq!(find_cycle(&chain), None);
    }
}
