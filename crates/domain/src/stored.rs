//! Stored text of the domain's enums: every state and kind the database
//! keeps as text is read back through `TryFrom<String>`, which takes
//! exactly `as_str()` and nothing else — an unknown stored value is an
//! error, never a silent default. The store parses once, at its edge.

/// A stored value this build does not know (a newer migration, a hand
/// edit): reading the row fails instead of guessing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} {value:?} in the database")]
pub struct UnknownStored {
    /// What was read (`"announcement state"`).
    pub what: &'static str,
    pub value: String,
}

/// `TryFrom<String>` for an enum with `ALL` and `as_str()`: the stored
/// text, exactly.
macro_rules! stored_text {
    ($($t:ty => $what:literal),+ $(,)?) => {$(
        impl TryFrom<String> for $t {
            type Error = $crate::stored::UnknownStored;

            fn try_from(s: String) -> Result<Self, Self::Error> {
                <$t>::ALL
                    .into_iter()
                    .find(|v| v.as_str() == s)
                    .ok_or($crate::stored::UnknownStored { what: $what, value: s })
            }
        }
    )+};
}

/// Serde as the stored text: writes `as_str()`, reads it back strictly
/// (for enums without serde derives of their own).
macro_rules! serde_as_str {
    ($($t:ty),+ $(,)?) => {$(
        impl serde::Serialize for $t {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $t {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let s = String::deserialize(deserializer)?;
                <$t>::try_from(s).map_err(serde::de::Error::custom)
            }
        }
    )+};
}

pub(crate) use {serde_as_str, stored_text};

stored_text!(
    crate::UnitLevel => "unit level",
    crate::Reach => "reach",
    crate::Gender => "gender",
    crate::MemberRole => "member role",
    crate::Represents => "represents",
    crate::TeamKind => "team kind",
    crate::Role => "role",
    crate::feedback::Severity => "severity",
    crate::feedback::FeedbackState => "feedback state",
    crate::feedback::Channel => "feedback channel",
    crate::feedback::RelayMethod => "relay method",
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::announcement::{
        AnnouncementState, DeliveryChannel, DeliveryState, OutboxState, Urgency,
    };
    use crate::feedback::{Channel, FeedbackState, RelayMethod, Severity};
    use crate::material::FileKind;
    use crate::unit::{CodeKind, UnitEventKind};
    use crate::{Gender, MemberRole, Reach, Represents, TeamKind, UnitLevel};

    /// Every value goes to its stored text and back, and serde writes the
    /// same text (the JSON answers show it).
    fn round_trip<T>(all: &[T], as_str: fn(&T) -> &'static str)
    where
        T: TryFrom<String, Error = UnknownStored>
            + serde::Serialize
            + for<'de> serde::Deserialize<'de>
            + PartialEq
            + std::fmt::Debug,
    {
        for v in all {
            let text = as_str(v);
            assert_eq!(T::try_from(text.to_string()).as_ref(), Ok(v));
            let json = serde_json::to_string(v).unwrap();
            assert_eq!(json, format!("\"{text}\""));
            assert_eq!(serde_json::from_str::<T>(&json).ok().as_ref(), Some(v));
        }
        let err = T::try_from("no such value".to_string()).unwrap_err();
        assert_eq!(err.value, "no such value");
        // Labels and other spellings `parse` accepts are not stored text.
        assert!(T::try_from(format!(" {}", as_str(&all[0]))).is_err());
        assert!(T::try_from(as_str(&all[0]).to_uppercase()).is_err());
    }

    #[test]
    fn stored_text_round_trips() {
        round_trip(&UnitLevel::ALL, UnitLevel::as_str);
        round_trip(&Reach::ALL, Reach::as_str);
        round_trip(&Gender::ALL, Gender::as_str);
        round_trip(&MemberRole::ALL, MemberRole::as_str);
        round_trip(&Represents::ALL, Represents::as_str);
        round_trip(&TeamKind::ALL, TeamKind::as_str);
        round_trip(&Severity::ALL, Severity::as_str);
        round_trip(&FeedbackState::ALL, FeedbackState::as_str);
        round_trip(&Channel::ALL, Channel::as_str);
        round_trip(&RelayMethod::ALL, RelayMethod::as_str);
        round_trip(&Urgency::ALL, |u| u.as_str());
        round_trip(&AnnouncementState::ALL, |s| s.as_str());
        round_trip(&DeliveryChannel::ALL, |c| c.as_str());
        round_trip(&DeliveryState::ALL, |s| s.as_str());
        round_trip(&OutboxState::ALL, |s| s.as_str());
        round_trip(&FileKind::ALL, |k| k.as_str());
        round_trip(&CodeKind::ALL, |k| k.as_str());
        round_trip(&UnitEventKind::ALL, |k| k.as_str());
    }
}
