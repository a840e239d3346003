package config

import "time"

// Media is the media: section, for the media repository.
type Media struct {
	// MaxUploadBytes is the largest file accepted by an upload.
	MaxUploadBytes int64 `yaml:"max_upload_bytes"`
	// UserQuotaBytes bounds the total size of what one user has uploaded; 0: no quota.
	UserQuotaBytes int64 `yaml:"user_quota_bytes"`
	// UnusedAsyncExpiry is how long a media ID made by POST /_matrix/media/v1/create waits for
	// its content before it expires.
	UnusedAsyncExpiry Duration `yaml:"unused_async_expiry"`
	// FreezeLegacyUnauthenticated stops the legacy unauthenticated download endpoints from
	// serving media uploaded from now on (content-repo.yaml, the "freeze").
	FreezeLegacyUnauthenticated bool `yaml:"freeze_legacy_unauthenticated"`
}

// Defaults sets m to a 100 MiB upload limit, no quota, a day for asynchronous uploads, and the
// legacy endpoints frozen.
func (m *Media) Defaults() {
	*m = Media{
		MaxUploadBytes:              100 << 20,
		UserQuotaBytes:              0,
		UnusedAsyncExpiry:           Duration(24 * time.Hour),
		FreezeLegacyUnauthenticated: true,
	}
}

// Validate reports every problem in m, keyed relative to the section.
func (m Media) Validate() []error {
	var errs []error
	if m.MaxUploadBytes < 1 {
		errs = append(errs, keyErrorf("max_upload_bytes", "must be at least 1 (got %d)", m.MaxUploadBytes))
	}
	if m.UserQuotaBytes < 0 {
		errs = append(errs, keyErrorf("user_quota_bytes", "must be 0 (no quota) or more (got %d)", m.UserQuotaBytes))
	}
	if m.UnusedAsyncExpiry.Std() < time.Second {
		errs = append(errs, keyErrorf("unused_async_expiry", "must be at least 1s (got %s)", m.UnusedAsyncExpiry))
	}
	return errs
}
