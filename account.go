package devapi

import (
	"context"
	"time"
)

// EnsureAPIKey makes sure the account email exists and accepts key, creating
// either as needed. It reports whether it added the key.
func EnsureAPIKey(ctx context.Context, s Store, email, key, name string, now time.Time) (bool, error) {
	if email == "" || key == "" {
		return false, Errorf(EINVALID, "email and API key are required")
	}
	if _, err := s.Authenticate(ctx, email, HashAPIKey(key)); err == nil {
		return false, nil
	} else if ErrorCode(err) != EUNAUTHORIZED {
		return false, err
	}
	if err := s.CreateAccount(ctx, &Account{Email: email, CreatedAt: now}); err != nil && ErrorCode(err) != ECONFLICT {
		return false, err
	}
	k := &APIKey{ID: NewKeyID(), Email: email, Name: name, Hash: HashAPIKey(key), CreatedAt: now}
	if err := s.AddAPIKey(ctx, k); err != nil {
		return false, err
	}
	return true, nil
}
