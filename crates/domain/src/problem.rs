//! Why the product refuses a request: one stable code per reason, with its
//! parameters. Raised below the web layer (the store, the domain's
//! parsers), translated only by the web (`danvan_web::i18n::problem`), so
//! an English page never shows a Vietnamese sentence and the JSON API
//! answers a code a client can rely on.

use crate::feedback::FeedbackState;
use crate::loudspeaker::SlotError;
use crate::material::FileRefused;
use crate::place::PlaceCandidate;
use crate::unit::UnitLevel;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    // Announcements.
    AnnouncementTitleMissing,
    AnnouncementBodyMissing,
    AnnouncementBodyTooLong {
        max: usize,
    },
    SendTimePast,
    ExpiryBeforeSend,
    UnknownReach,
    AudienceMissing,
    AudienceTooLarge {
        max: usize,
    },
    AudienceUnitOutside,
    AudienceTeamOutside,
    AudienceEmpty,
    AnnouncementNotPending,
    AnnouncementWithdrawn,
    WithdrawReasonMissing,
    ApprovalRuleProvinceOnly,
    ApprovalRuleUnknown,
    /// A role named to send emergencies without approval that is no role,
    /// or one that writes no announcement.
    EmergencyRoleInvalid,
    WithdrawnNoVisit,
    HouseholdNotInAudience,

    // Feedback.
    PublicityProvinceOnly,
    PublicityUnknown,
    DeadlineNotPositive,
    HandlingUnitLevel,
    TopicUnknown,
    FeedbackTextMissing,
    ReporterRequired,
    RelayHouseholdMissing,
    RelayMethodMissing,
    SubmissionKeyTooLong,
    HamletNotActive,
    HouseholdNotInHamlet,
    ResidentNotInHousehold,
    TrackingCodeUnavailable,
    TooManyPhotos {
        max: usize,
    },
    StateChange {
        from: FeedbackState,
        to: FeedbackState,
    },
    NoteMissing,
    AssigneeOutside,
    FeedbackClosed,
    AnswerMissing,
    NoDraftAnswer,
    DuplicateOfItself,
    ChangedByAnother,
    ChangedTryAgain,
    RatingRange,
    NotRatable,
    TemplateTextMissing,
    PeriodReversed,
    PeriodTooLong {
        days: i64,
    },
    TooManyCodes {
        max: usize,
    },

    // Units.
    ValidityReversed,
    LevelUnder {
        child: UnitLevel,
        parent: UnitLevel,
    },
    MergeNeedsSources,
    SplitHamletOnly,
    SplitTargetUnknown,
    SplitHouseholdOutside {
        household: i64,
    },
    SplitLeftBehind {
        left: i64,
    },
    MoveIntoItself,

    // Placing a report by a point or an address (Open311 without a hamlet).
    /// No hamlet with a centre near the point: the nearest ones, if any.
    PlacePointFar {
        nearest: Vec<PlaceCandidate>,
    },
    /// The address names no hamlet: the hamlets it could be (those of a
    /// commune it names, else some of the key's).
    PlaceAddressUnknown {
        candidates: Vec<PlaceCandidate>,
    },
    /// The address names several hamlets and no commune tells them apart.
    PlaceAmbiguous {
        candidates: Vec<PlaceCandidate>,
    },
    /// Neither a hamlet, nor a point, nor an address.
    PlaceMissing,

    // Accounts.
    PasswordTooShort {
        min: usize,
    },
    PasswordTooLong {
        max: usize,
    },
    /// A login and password that do not match (which of them is not said).
    BadCredentials,
    /// Too many households' personal data read in a short time.
    TooManyReads {
        minutes: i64,
    },
    /// One of the passwords attackers try first, or a run of one key.
    PasswordWeak,
    PasswordHasUsername,
    /// The current password typed to change it is wrong.
    PasswordCurrentWrong,
    /// Too many wrong passwords: wait this long before the next try.
    PasswordWait {
        seconds: i64,
    },
    UsernameChars,
    RoleNeedsTeam,
    RoleNeedsUnit,
    AccountTaken,

    // Households and teams.
    PointOutsideVietnam,
    PointIncomplete,
    OneHeadPerHousehold,
    HouseholdNeedsHamlet,
    TeamNotOfHamlet,
    HouseholdCodeTaken {
        code: String,
    },
    CitizenIdTaken,
    TeamNeedsHamlet,
    TeamCodeTaken {
        code: String,
    },
    TeamClosed,
    MemberTermOrder,
    MemberEnded,
    MemberSameTeam,
    PasswordSetupInvalid,
    HouseholdsNoneTicked,

    // Materials and the loudspeaker.
    MaterialTitleMissing,
    MaterialAgencyMissing,
    MaterialFile(FileRefused),
    TopicNotForMaterials,
    CopiesRange {
        max: i64,
    },
    CopiesGivenRange {
        max: i64,
    },
    HandoutTeamsMissing,
    UnitWithoutTeams,
    HandoutTooManyTeams {
        max: usize,
    },
    BroadcastTimes(SlotError),

    // Forms and uploads (the web's own checks).
    UnitChoiceMissing,
    BadChoice {
        field: &'static str,
    },
    UploadInterrupted,
    UploadUnreadable,
}

impl Problem {
    /// The stable code (the JSON API's `error.code`), `area.reason`.
    pub fn code(&self) -> &'static str {
        use Problem::*;
        match self {
            AnnouncementTitleMissing => "announcement.title_missing",
            AnnouncementBodyMissing => "announcement.body_missing",
            AnnouncementBodyTooLong { .. } => "announcement.body_too_long",
            SendTimePast => "announcement.send_time_past",
            ExpiryBeforeSend => "announcement.expiry_before_send",
            UnknownReach => "announcement.unknown_reach",
            AudienceMissing => "announcement.audience_missing",
            AudienceTooLarge { .. } => "announcement.audience_too_large",
            AudienceUnitOutside => "announcement.audience_unit_outside",
            AudienceTeamOutside => "announcement.audience_team_outside",
            AudienceEmpty => "announcement.audience_empty",
            AnnouncementNotPending => "announcement.not_pending",
            AnnouncementWithdrawn => "announcement.withdrawn",
            WithdrawReasonMissing => "announcement.withdraw_reason_missing",
            ApprovalRuleProvinceOnly => "announcement.approval_rule_province_only",
            ApprovalRuleUnknown => "announcement.approval_rule_unknown",
            EmergencyRoleInvalid => "announcement.emergency_role_invalid",
            PublicityProvinceOnly => "feedback.publicity_province_only",
            PublicityUnknown => "feedback.publicity_unknown",
            WithdrawnNoVisit => "announcement.withdrawn_no_visit",
            HouseholdNotInAudience => "announcement.household_not_in_audience",
            DeadlineNotPositive => "feedback.deadline_not_positive",
            HandlingUnitLevel => "feedback.handling_unit_level",
            TopicUnknown => "feedback.topic_unknown",
            FeedbackTextMissing => "feedback.text_missing",
            ReporterRequired => "feedback.reporter_required",
            RelayHouseholdMissing => "feedback.relay_household_missing",
            RelayMethodMissing => "feedback.relay_method_missing",
            SubmissionKeyTooLong => "feedback.submission_key_too_long",
            HamletNotActive => "feedback.hamlet_not_active",
            HouseholdNotInHamlet => "feedback.household_not_in_hamlet",
            ResidentNotInHousehold => "feedback.resident_not_in_household",
            TrackingCodeUnavailable => "feedback.tracking_code_unavailable",
            TooManyPhotos { .. } => "feedback.too_many_photos",
            StateChange { .. } => "feedback.state_change",
            NoteMissing => "feedback.note_missing",
            AssigneeOutside => "feedback.assignee_outside",
            FeedbackClosed => "feedback.closed",
            AnswerMissing => "feedback.answer_missing",
            NoDraftAnswer => "feedback.no_draft_answer",
            DuplicateOfItself => "feedback.duplicate_of_itself",
            ChangedByAnother => "feedback.changed_by_another",
            ChangedTryAgain => "feedback.changed_try_again",
            RatingRange => "feedback.rating_range",
            NotRatable => "feedback.not_ratable",
            TemplateTextMissing => "feedback.template_text_missing",
            PeriodReversed => "feedback.period_reversed",
            PeriodTooLong { .. } => "feedback.period_too_long",
            TooManyCodes { .. } => "feedback.too_many_codes",
            ValidityReversed => "unit.validity_reversed",
            LevelUnder { .. } => "unit.level_under",
            MergeNeedsSources => "unit.merge_needs_sources",
            SplitHamletOnly => "unit.split_hamlet_only",
            SplitTargetUnknown => "unit.split_target_unknown",
            SplitHouseholdOutside { .. } => "unit.split_household_outside",
            SplitLeftBehind { .. } => "unit.split_left_behind",
            MoveIntoItself => "unit.move_into_itself",
            PlacePointFar { .. } => "place.point_far",
            PlaceAddressUnknown { .. } => "place.address_unknown",
            PlaceAmbiguous { .. } => "place.ambiguous",
            PlaceMissing => "place.missing",
            PasswordTooShort { .. } => "account.password_too_short",
            PasswordTooLong { .. } => "account.password_too_long",
            BadCredentials => "account.bad_credentials",
            TooManyReads { .. } => "account.too_many_reads",
            PasswordWeak => "account.password_weak",
            PasswordHasUsername => "account.password_has_username",
            PasswordCurrentWrong => "account.password_current_wrong",
            PasswordWait { .. } => "account.password_wait",
            UsernameChars => "account.username_chars",
            RoleNeedsTeam => "account.role_needs_team",
            RoleNeedsUnit => "account.role_needs_unit",
            AccountTaken => "account.taken",
            PointOutsideVietnam => "household.point_outside_vietnam",
            PointIncomplete => "household.point_incomplete",
            OneHeadPerHousehold => "household.one_head",
            HouseholdNeedsHamlet => "household.needs_hamlet",
            TeamNotOfHamlet => "household.team_not_of_hamlet",
            HouseholdCodeTaken { .. } => "household.code_taken",
            CitizenIdTaken => "household.citizen_id_taken",
            TeamNeedsHamlet => "team.needs_hamlet",
            TeamCodeTaken { .. } => "team.code_taken",
            TeamClosed => "team.closed",
            MemberTermOrder => "team.member_term_order",
            MemberEnded => "team.member_ended",
            MemberSameTeam => "team.member_same_team",
            PasswordSetupInvalid => "account.setup_invalid",
            HouseholdsNoneTicked => "household.none_ticked",
            MaterialTitleMissing => "material.title_missing",
            MaterialAgencyMissing => "material.agency_missing",
            MaterialFile(FileRefused::Empty) => "material.file_empty",
            MaterialFile(FileRefused::TooLarge) => "material.file_too_large",
            MaterialFile(FileRefused::Unknown) => "material.file_kind",
            MaterialFile(FileRefused::Mismatch) => "material.file_mismatch",
            TopicNotForMaterials => "material.topic_not_for_materials",
            CopiesRange { .. } => "material.copies_range",
            CopiesGivenRange { .. } => "material.copies_given_range",
            HandoutTeamsMissing => "material.handout_teams_missing",
            UnitWithoutTeams => "material.unit_without_teams",
            HandoutTooManyTeams { .. } => "material.handout_too_many_teams",
            BroadcastTimes(SlotError::Malformed(_)) => "loudspeaker.time_malformed",
            BroadcastTimes(SlotError::NoSuchTime(_)) => "loudspeaker.no_such_time",
            BroadcastTimes(SlotError::Empty) => "loudspeaker.times_missing",
            BroadcastTimes(SlotError::TooMany) => "loudspeaker.too_many_times",
            UnitChoiceMissing => "form.unit_missing",
            BadChoice { .. } => "form.bad_choice",
            UploadInterrupted => "form.upload_interrupted",
            UploadUnreadable => "form.upload_unreadable",
        }
    }

    /// One of each kind, for the tests that check every code is
    /// documented and translated.
    pub fn examples() -> Vec<Problem> {
        use Problem::*;
        let s = FeedbackState::Received;
        // Names without marks: the tests look for Vietnamese in the English
        // sentences, and names are data, shown as they are in either.
        let candidate = PlaceCandidate {
            hamlet_id: 1,
            hamlet: "Thon Mai Hoang".into(),
            commune: "Xa Phuc Son".into(),
            metres: Some(1250),
        };
        vec![
            AnnouncementTitleMissing,
            AnnouncementBodyMissing,
            AnnouncementBodyTooLong { max: 1 },
            SendTimePast,
            ExpiryBeforeSend,
            UnknownReach,
            AudienceMissing,
            AudienceTooLarge { max: 1 },
            AudienceUnitOutside,
            AudienceTeamOutside,
            AudienceEmpty,
            AnnouncementNotPending,
            AnnouncementWithdrawn,
            WithdrawReasonMissing,
            ApprovalRuleProvinceOnly,
            ApprovalRuleUnknown,
            EmergencyRoleInvalid,
            WithdrawnNoVisit,
            HouseholdNotInAudience,
            PublicityProvinceOnly,
            PublicityUnknown,
            DeadlineNotPositive,
            HandlingUnitLevel,
            TopicUnknown,
            FeedbackTextMissing,
            ReporterRequired,
            RelayHouseholdMissing,
            RelayMethodMissing,
            SubmissionKeyTooLong,
            HamletNotActive,
            HouseholdNotInHamlet,
            ResidentNotInHousehold,
            TrackingCodeUnavailable,
            TooManyPhotos { max: 1 },
            StateChange { from: s, to: s },
            NoteMissing,
            AssigneeOutside,
            FeedbackClosed,
            AnswerMissing,
            NoDraftAnswer,
            DuplicateOfItself,
            ChangedByAnother,
            ChangedTryAgain,
            RatingRange,
            NotRatable,
            TemplateTextMissing,
            PeriodReversed,
            PeriodTooLong { days: 1 },
            TooManyCodes { max: 1 },
            ValidityReversed,
            LevelUnder {
                child: UnitLevel::Commune,
                parent: UnitLevel::Hamlet,
            },
            MergeNeedsSources,
            SplitHamletOnly,
            SplitTargetUnknown,
            SplitHouseholdOutside { household: 1 },
            SplitLeftBehind { left: 1 },
            MoveIntoItself,
            PlacePointFar {
                nearest: vec![candidate.clone()],
            },
            PlaceAddressUnknown {
                candidates: vec![candidate.clone()],
            },
            PlaceAmbiguous {
                candidates: vec![candidate],
            },
            PlaceMissing,
            PasswordTooShort { min: 1 },
            PasswordTooLong { max: 1 },
            BadCredentials,
            TooManyReads { minutes: 1 },
            PasswordWeak,
            PasswordHasUsername,
            PasswordCurrentWrong,
            PasswordWait { seconds: 1 },
            UsernameChars,
            RoleNeedsTeam,
            RoleNeedsUnit,
            AccountTaken,
            PointOutsideVietnam,
            PointIncomplete,
            OneHeadPerHousehold,
            HouseholdNeedsHamlet,
            TeamNotOfHamlet,
            HouseholdCodeTaken { code: "X".into() },
            CitizenIdTaken,
            TeamNeedsHamlet,
            TeamCodeTaken { code: "X".into() },
            TeamClosed,
            MemberTermOrder,
            MemberEnded,
            MemberSameTeam,
            PasswordSetupInvalid,
            HouseholdsNoneTicked,
            MaterialTitleMissing,
            MaterialAgencyMissing,
            MaterialFile(FileRefused::Empty),
            MaterialFile(FileRefused::TooLarge),
            MaterialFile(FileRefused::Unknown),
            MaterialFile(FileRefused::Mismatch),
            TopicNotForMaterials,
            CopiesRange { max: 1 },
            CopiesGivenRange { max: 1 },
            HandoutTeamsMissing,
            UnitWithoutTeams,
            HandoutTooManyTeams { max: 1 },
            BroadcastTimes(SlotError::Malformed("x".into())),
            BroadcastTimes(SlotError::NoSuchTime("x".into())),
            BroadcastTimes(SlotError::Empty),
            BroadcastTimes(SlotError::TooMany),
            UnitChoiceMissing,
            BadChoice { field: "team" },
            UploadInterrupted,
            UploadUnreadable,
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for p in Problem::examples() {
            assert!(seen.insert(p.code()), "{} twice", p.code());
        }
        assert!(seen.len() > 80);
    }
}
