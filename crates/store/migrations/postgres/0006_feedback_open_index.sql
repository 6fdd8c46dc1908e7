-- Open items by place and deadline: a dashboard counts the late ones of a
-- subtree by reading only the open items (a small share of a province's
-- reports), not every report ever received there.
CREATE INDEX feedback_open_due ON feedback (path, resolve_due)
    WHERE state IN ('received', 'acknowledged', 'in_progress', 'reopened');
