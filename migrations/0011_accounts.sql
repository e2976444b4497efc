-- Tokens (issue 11): an optional expiry (seconds since the epoch; NULL
-- never expires), and a short non-secret prefix of the secret (`mpe_` and
-- six hex digits) so that a listing can say which token is which. Tokens
-- made before this have no prefix. `last_used_at` (0001) is now recorded,
-- after the response and at most once a minute per token.
ALTER TABLE tokens ADD COLUMN expires_at INTEGER;
ALTER TABLE tokens ADD COLUMN prefix TEXT;

-- Offboarding (issue 11): a disabled user's tokens and sessions stop
-- working at once (every token check requires a user not disabled), their
-- view is no longer served, and their Store entities stay.
ALTER TABLE users ADD COLUMN disabled_at INTEGER;
