//! Printed announcements: an A4 poster for the hamlet's notice board and an
//! A5 leaflet for households without a phone, as PDF. The web crate serves
//! them (`/api/v1/announcements/{id}/poster.pdf`, `…/leaflet.pdf`).

mod layout;
mod typeface;
mod wrap;

use danvan_domain::announcement::Urgency;
use danvan_domain::calendar;
use danvan_store::announce::announcement::Announcement;
use danvan_store::{Scope, Store, StoreError};

pub use layout::{pdf, Format, Sheet};

/// What the paper says: the writing unit (and its parent while that still
/// exists), the day it is sent in Vietnam time, and who speaks at the foot.
/// Unit and team names are not personal data, so they are read unscoped: a
/// hamlet head prints what the commune wrote, under the commune's name.
pub async fn sheet(store: &Store, a: &Announcement) -> Result<Sheet, StoreError> {
    let all = Scope::all();
    let unit = store.unit(&all, a.unit_id).await?;
    let parent = match unit.parent_id {
        Some(id) => Some(store.unit(&all, id).await?).filter(|u| u.valid_to.is_none()),
        None => None,
    };
    let heading = match &parent {
        Some(parent) => format!("{} — {}", unit.name, parent.name),
        None => unit.name.clone(),
    };
    let speaker = match a.team_id {
        Some(team) => store.team(&all, team).await?.name,
        None => unit.name.clone(),
    };
    Ok(Sheet {
        unit: heading,
        title: a.title.clone(),
        date: format!("Ngày {}", calendar::to_local(a.send_at).format("%d/%m/%Y")),
        alert: match a.urgency {
            Urgency::Normal => None,
            u => Some(u.label_vi().to_uppercase()),
        },
        body: a.body.clone(),
        footer: format!("{speaker} · Thông báo số {}", a.id),
    })
}
