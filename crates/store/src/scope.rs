//! The part of the unit tree a person may see. Every read of personal data
//! takes a `Scope` and filters in SQL; there is no unscoped read path for the
//! web layer.

use crate::prefix_end;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    /// Materialized path of the unit served (`/` for everything).
    pub path: String,
    /// Team roles see only the households of their own team.
    pub team_id: Option<i64>,
}

impl Scope {
    pub fn all() -> Scope {
        Scope {
            path: "/".into(),
            team_id: None,
        }
    }

    pub fn unit(path: &str) -> Scope {
        Scope {
            path: path.to_string(),
            team_id: None,
        }
    }

    pub fn team(hamlet_path: &str, team_id: i64) -> Scope {
        Scope {
            path: hamlet_path.to_string(),
            team_id: Some(team_id),
        }
    }

    /// Upper bound of the path range.
    pub fn end(&self) -> String {
        prefix_end(&self.path)
    }

    pub fn contains_path(&self, path: &str) -> bool {
        path.starts_with(&self.path)
    }

    /// Narrows to the subtree at `path` if it lies inside this scope.
    pub fn narrow(&self, path: &str) -> Option<Scope> {
        if self.contains_path(path) {
            Some(Scope {
                path: path.to_string(),
                team_id: self.team_id,
            })
        } else if path.len() < self.path.len() && self.path.starts_with(path) {
            // Asking for an ancestor: the answer is what the scope already allows.
            Some(self.clone())
        } else {
            None
        }
    }
}
