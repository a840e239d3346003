package config

import (
	"fmt"
	"net/netip"
	"time"
)

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
	// ThumbnailSizes are the thumbnails made at upload; a request is served from the smallest
	// that is at least the size asked for.
	ThumbnailSizes []ThumbnailSize `yaml:"thumbnail_sizes"`
	// URLPreview configures GET /preview_url.
	URLPreview URLPreview `yaml:"url_preview"`
}

// URLPreview is the media.url_preview section. Previews make the server fetch any URL a user
// names, so they are off by default and never reach private addresses unless allowed here.
type URLPreview struct {
	Enabled bool `yaml:"enabled"`
	// AllowedCIDRs are address ranges previews may fetch even though they are private or
	// otherwise blocked, e.g. an intranet's 10.1.0.0/16.
	AllowedCIDRs []string `yaml:"allowed_cidrs"`
	// BlockedCIDRs are blocked in addition to the private and special-purpose ranges.
	BlockedCIDRs []string `yaml:"blocked_cidrs"`
	// MaxBytes bounds what is read of a page or of its image.
	MaxBytes int64 `yaml:"max_bytes"`
	// Timeout bounds one fetch, redirects included.
	Timeout Duration `yaml:"timeout"`
	// CacheLifetime is how long a preview is served from the cache before it is fetched again.
	CacheLifetime Duration `yaml:"cache_lifetime"`
}

// Prefixes parses CIDRs, which Validate has checked.
func Prefixes(cidrs []string) []netip.Prefix {
	out := make([]netip.Prefix, 0, len(cidrs))
	for _, c := range cidrs {
		if p, err := netip.ParsePrefix(c); err == nil {
			out = append(out, p.Masked())
		}
	}
	return out
}

// ThumbnailSize is one thumbnail size class.
type ThumbnailSize struct {
	Width  int    `yaml:"width"`
	Height int    `yaml:"height"`
	Method string `yaml:"method"` // crop or scale
}

// maxThumbnailSide bounds a configured thumbnail's width and height.
const maxThumbnailSide = 4096

// Defaults sets m to a 100 MiB upload limit, no quota, a day for asynchronous uploads, the
// legacy endpoints frozen, and the thumbnail sizes the spec recommends
// (content/client-server-api/modules/content_repo.md, "Thumbnails").
func (m *Media) Defaults() {
	*m = Media{
		MaxUploadBytes:              100 << 20,
		UserQuotaBytes:              0,
		UnusedAsyncExpiry:           Duration(24 * time.Hour),
		FreezeLegacyUnauthenticated: true,
		ThumbnailSizes: []ThumbnailSize{
			{Width: 32, Height: 32, Method: "crop"},
			{Width: 96, Height: 96, Method: "crop"},
			{Width: 320, Height: 240, Method: "scale"},
			{Width: 640, Height: 480, Method: "scale"},
			{Width: 800, Height: 600, Method: "scale"},
		},
		URLPreview: URLPreview{
			Enabled:       false,
			AllowedCIDRs:  []string{},
			BlockedCIDRs:  []string{},
			MaxBytes:      10 << 20,
			Timeout:       Duration(10 * time.Second),
			CacheLifetime: Duration(time.Hour),
		},
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
	for i, size := range m.ThumbnailSizes {
		key := fmt.Sprintf("thumbnail_sizes[%d]", i)
		if size.Width < 1 || size.Height < 1 || size.Width > maxThumbnailSide || size.Height > maxThumbnailSide {
			errs = append(errs, keyErrorf(key, "width and height must be 1 to %d (got %dx%d)", maxThumbnailSide, size.Width, size.Height))
		}
		if size.Method != "crop" && size.Method != "scale" {
			errs = append(errs, keyErrorf(key+".method", "must be crop or scale (got %q)", size.Method))
		}
	}
	errs = append(errs, Nest("url_preview", m.URLPreview.Validate())...)
	return errs
}

// Validate reports every problem in u, keyed relative to the section.
func (u URLPreview) Validate() []error {
	var errs []error
	for _, list := range []struct {
		key   string
		cidrs []string
	}{{"allowed_cidrs", u.AllowedCIDRs}, {"blocked_cidrs", u.BlockedCIDRs}} {
		for i, c := range list.cidrs {
			if _, err := netip.ParsePrefix(c); err != nil {
				errs = append(errs, keyErrorf(fmt.Sprintf("%s[%d]", list.key, i), "must be an address range such as 10.0.0.0/8 or fd00::/8 (got %q)", c))
			}
		}
	}
	if u.MaxBytes < 1024 {
		errs = append(errs, keyErrorf("max_bytes", "must be at least 1024 (got %d)", u.MaxBytes))
	}
	if u.Timeout.Std() < time.Second {
		errs = append(errs, keyErrorf("timeout", "must be at least 1s (got %s)", u.Timeout))
	}
	if u.CacheLifetime.Std() < 0 {
		errs = append(errs, keyErrorf("cache_lifetime", "must not be negative (got %s)", u.CacheLifetime))
	}
	return errs
}
