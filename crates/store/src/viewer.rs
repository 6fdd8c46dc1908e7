//! Who reads or changes something, and the one way the store asks the
//! policy (`danvan_domain::policy`) whether they may.

use danvan_domain::policy::{self, Action, Denial, Subject, Target};
use danvan_domain::Role;

use crate::registry::account::Principal;
use crate::{Actor, Result, Scope, StoreError};

/// Who looks at or changes something: the account, its part of the tree,
/// its role and whether it leads its unit.
#[derive(Debug, Clone)]
pub struct Viewer {
    pub actor: Actor,
    pub scope: Scope,
    pub role: Role,
    pub leads_unit: bool,
}

impl Viewer {
    pub fn of(p: &Principal) -> Viewer {
        Viewer {
            actor: p.actor(),
            scope: p.scope.clone(),
            role: p.role,
            leads_unit: p.leads_unit,
        }
    }

    /// The system itself (sweeps, a reporter's message): sees everything.
    pub fn system() -> Viewer {
        Viewer {
            actor: Actor::system(),
            scope: Scope::all(),
            role: policy::OPERATOR,
            leads_unit: false,
        }
    }

    /// The command line run by the operator on the server: everything.
    pub fn cli() -> Viewer {
        Viewer {
            actor: Actor::cli(),
            scope: Scope::all(),
            role: policy::OPERATOR,
            leads_unit: false,
        }
    }

    /// The viewer as the policy sees them.
    pub fn subject(&self) -> Subject<'_> {
        Subject {
            role: self.role,
            path: &self.scope.path,
            team_id: self.scope.team_id,
            leads_unit: self.leads_unit,
            account_id: self.actor.account_id,
        }
    }

    /// May the viewer do `action` to `target`?
    pub fn may(&self, action: Action, target: &Target) -> bool {
        policy::may(&self.subject(), action, target)
    }

    /// Confidential topics and reporters who did not consent to be named:
    /// the reads of feedback bind this into their SQL.
    pub fn sees_confidential(&self) -> bool {
        self.may_at_all(Action::ReadConfidentialFeedback)
    }

    /// May the viewer do `action` anywhere (the role's grant alone)?
    pub fn may_at_all(&self, action: Action) -> bool {
        policy::offered(self.role, action)
    }

    /// The policy's refusal as the store's error, naming its reason. (Reads
    /// never get here: what is out of scope is filtered in SQL and is
    /// "not found".)
    pub fn require(&self, action: Action, target: &Target) -> Result<()> {
        policy::decide(&self.subject(), action, target).map_err(denied)
    }
}

impl Principal {
    pub fn subject(&self) -> Subject<'_> {
        Subject {
            role: self.role,
            path: &self.scope.path,
            team_id: self.scope.team_id,
            leads_unit: self.leads_unit,
            account_id: Some(self.account_id),
        }
    }

    pub fn may(&self, action: Action, target: &Target) -> bool {
        policy::may(&self.subject(), action, target)
    }

    pub fn may_at_all(&self, action: Action) -> bool {
        policy::offered(self.role, action)
    }

    pub fn require(&self, action: Action, target: &Target) -> Result<()> {
        policy::decide(&self.subject(), action, target).map_err(denied)
    }
}

pub fn denied(d: Denial) -> StoreError {
    StoreError::Denied(d)
}
