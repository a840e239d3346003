// Package thumbnail turns image bytes into Matrix content-repository thumbnails
// (content/client-server-api/modules/content_repo.md, "Thumbnails";
// data/api/client-server/authed-content-repo.yaml, GET /_matrix/client/v1/media/thumbnail/{serverName}/{mediaId}).
//
// It owns format sniffing, the decompression-bomb checks that run before any
// pixel is decoded, scaling and cropping, and re-encoding. It is a pure
// library: request parsing, M_* errors, storing generated thumbnails, fetching
// remote media and deciding whether to serve the original instead all belong
// to homeserver/media.
//
// Inputs: JPEG, PNG, GIF (first frame, or every frame when Spec.Animated is
// set) and WebP (still images only; golang.org/x/image/webp cannot decode
// animated WebP). Outputs: JPEG (quality 80) when the thumbnail is opaque, PNG
// when it has any transparency, GIF for animated thumbnails. WebP input follows
// the same rule, so a WebP with alpha becomes PNG and an opaque one JPEG.
//
// A JPEG's EXIF Orientation tag is applied: thumbnails come out upright, the
// spec's width and height apply to the upright picture, and Probe reports
// upright dimensions. Only the first APP1 segment within the first 64 KiB is
// read (exif.go). WebP's EXIF chunk is not read: the container puts it after
// the image data, where browsers ignore orientation metadata too (CSS Images
// 3, image-orientation), and Probe could not reach it without reading the
// whole file.
package thumbnail

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"
	"mime"
	"strings"

	"golang.org/x/image/draw"
	_ "golang.org/x/image/webp" // registers the "webp" format with image.Decode
)

// Method is a thumbnailing method, the "method" query parameter.
type Method string

const (
	// Crop fills Width x Height exactly (when the source is large enough),
	// scaling and then cutting the excess from the centre.
	Crop Method = "crop"
	// Scale fits the whole image within Width x Height, keeping its aspect ratio.
	Scale Method = "scale"
)

// maxSpecSide bounds Spec.Width and Spec.Height so that geometry can multiply
// them by image sides in int64 without overflow. Outputs never exceed the
// source anyway, so no legitimate request comes near it.
const maxSpecSide = 1 << 24

// Spec is a requested thumbnail: the width, height, method and animated query
// parameters.
type Spec struct {
	Width, Height int
	Method        Method
	Animated      bool
}

// Validate reports ErrInvalidSpec for non-positive or absurd dimensions and
// unknown methods.
func (s Spec) Validate() error {
	if s.Width <= 0 || s.Height <= 0 || s.Width > maxSpecSide || s.Height > maxSpecSide {
		return fmt.Errorf("%w: size %dx%d", ErrInvalidSpec, s.Width, s.Height)
	}
	if s.Method != Crop && s.Method != Scale {
		return fmt.Errorf("%w: method %q", ErrInvalidSpec, s.Method)
	}
	return nil
}

// StandardSizes are the thumbnails the spec says servers SHOULD produce, and
// the ones Synapse pre-generates on upload. Callers must not modify it.
var StandardSizes = []Spec{
	{Width: 32, Height: 32, Method: Crop},
	{Width: 96, Height: 96, Method: Crop},
	{Width: 320, Height: 240, Method: Scale},
	{Width: 640, Height: 480, Method: Scale},
	{Width: 800, Height: 600, Method: Scale},
}

// Defaults for Limits. 32 Mpx covers every phone camera; a fully decoded
// image of that size is 128 MB of RGBA. 16384 is also WebP's maximum side.
const (
	DefaultMaxPixels = 32_000_000
	DefaultMaxSide   = 16384
	DefaultMaxFrames = 1000
)

// Limits bound the work Generate is willing to do. A zero field means its default.
type Limits struct {
	// MaxPixels bounds width*height of the source image. For animated GIFs
	// it also bounds frames*width*height; above that the thumbnail is static.
	MaxPixels int64
	// MaxWidth and MaxHeight bound each side of the source image.
	MaxWidth, MaxHeight int
	// MaxFrames bounds the frames of an animated thumbnail; above it the
	// thumbnail is static.
	MaxFrames int
}

// DefaultLimits returns Limits with every field at its default.
func DefaultLimits() Limits {
	return Limits{}.withDefaults()
}

func (l Limits) withDefaults() Limits {
	if l.MaxPixels <= 0 {
		l.MaxPixels = DefaultMaxPixels
	}
	if l.MaxWidth <= 0 {
		l.MaxWidth = DefaultMaxSide
	}
	if l.MaxHeight <= 0 {
		l.MaxHeight = DefaultMaxSide
	}
	if l.MaxFrames <= 0 {
		l.MaxFrames = DefaultMaxFrames
	}
	return l
}

func (l Limits) check(w, h int) error {
	if w > l.MaxWidth || h > l.MaxHeight || int64(w)*int64(h) > l.MaxPixels {
		return fmt.Errorf("%w: %dx%d exceeds %dx%d or %d pixels", ErrTooLarge, w, h, l.MaxWidth, l.MaxHeight, l.MaxPixels)
	}
	return nil
}

var (
	// ErrUnsupported means the content type or the sniffed format cannot be thumbnailed.
	ErrUnsupported = errors.New("thumbnail: unsupported media type")
	// ErrTooLarge means the image header claims more pixels than Limits allow.
	// It is returned before any pixel data is decoded.
	ErrTooLarge = errors.New("thumbnail: image too large")
	// ErrDecode means the data is corrupt, truncated or not what its content type says.
	ErrDecode = errors.New("thumbnail: cannot decode image")
	// ErrInvalidSpec means the requested size or method is invalid.
	ErrInvalidSpec = errors.New("thumbnail: invalid thumbnail spec")
)

// supportedFormats are the image.DecodeConfig format names we decode.
var supportedFormats = map[string]bool{"jpeg": true, "png": true, "gif": true, "webp": true}

// supportedTypes maps accepted content types to their format. image/jpg and
// image/pjpeg are not registered types but are seen in the wild.
var supportedTypes = map[string]string{
	"image/jpeg": "jpeg", "image/jpg": "jpeg", "image/pjpeg": "jpeg",
	"image/png": "png", "image/gif": "gif", "image/webp": "webp",
}

// Supported reports whether Generate accepts contentType (parameters such as
// "; charset=" are ignored).
func Supported(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false
	}
	_, ok := supportedTypes[strings.ToLower(mt)]
	return ok
}

// Probe reads only the image header from r and returns the format ("jpeg",
// "png", "gif" or "webp") and dimensions. For a JPEG the dimensions are those
// of the upright picture, after its EXIF orientation: a portrait photo stored
// sideways reports its height as the larger side. It returns ErrTooLarge,
// together with the format and dimensions, when the image exceeds limits: this
// is the decompression-bomb check, and it costs a few kilobytes of reading
// whatever the header claims. Unknown formats give ErrUnsupported, broken
// headers ErrDecode.
func Probe(r io.Reader, limits Limits) (format string, width, height int, err error) {
	format, width, height, _, err = probe(r, limits)
	return format, width, height, err
}

// probe is Probe, also returning the orientation (topLeft unless a JPEG says
// otherwise).
func probe(r io.Reader, limits Limits) (format string, width, height int, o orientation, err error) {
	hr := &headRecorder{r: r}
	cfg, format, err := image.DecodeConfig(hr)
	switch {
	case errors.Is(err, image.ErrFormat):
		return "", 0, 0, 0, fmt.Errorf("%w: unknown image format", ErrUnsupported)
	case err != nil:
		return format, 0, 0, 0, fmt.Errorf("%w: %s header: %w", ErrDecode, format, err)
	case !supportedFormats[format]:
		return format, 0, 0, 0, fmt.Errorf("%w: format %s", ErrUnsupported, format)
	case cfg.Width <= 0 || cfg.Height <= 0:
		return format, cfg.Width, cfg.Height, 0, fmt.Errorf("%w: %s header claims %dx%d", ErrDecode, format, cfg.Width, cfg.Height)
	}
	o, width, height = topLeft, cfg.Width, cfg.Height
	if format == "jpeg" {
		o = jpegOrientation(hr.head)
	}
	if o.swapsSides() {
		width, height = height, width
	}
	return format, width, height, o, limits.withDefaults().check(width, height)
}

// Generate makes the thumbnail spec of data, whose declared type is
// contentType, and returns the encoded thumbnail and its content type. The
// format is sniffed from data, so a mislabelled but supported image still
// works. It never upscales: a source smaller than spec is re-encoded at its own
// size (Scale) or at the largest spec-shaped crop it contains (Crop). The spec
// says to serve the original in that case; that choice is the caller's (use Probe).
func Generate(data []byte, contentType string, spec Spec, limits Limits) (out []byte, outContentType string, err error) {
	if err := spec.Validate(); err != nil {
		return nil, "", err
	}
	limits = limits.withDefaults()
	format, w, h, o, err := sniff(data, contentType, limits)
	if err != nil {
		return nil, "", err
	}
	if format == "gif" && spec.Animated {
		out, ok, err := animatedGIF(data, w, h, spec, limits)
		if err != nil || ok {
			return out, "image/gif", err
		}
	}
	img, _, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		return nil, "", fmt.Errorf("%w: %s: %w", ErrDecode, format, err)
	}
	return encodeStill(still(newPyramid(img), o, spec))
}

// Output is one encoded thumbnail.
type Output struct {
	Data        []byte
	ContentType string
}

// GenerateStills makes a still thumbnail of data for each spec, as Generate would with
// Animated unset, decoding the image once for all of them: what an upload's pre-generated
// thumbnails need.
func GenerateStills(data []byte, contentType string, specs []Spec, limits Limits) ([]Output, error) {
	for _, spec := range specs {
		if err := spec.Validate(); err != nil {
			return nil, err
		}
	}
	format, _, _, o, err := sniff(data, contentType, limits.withDefaults())
	if err != nil {
		return nil, err
	}
	img, _, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrDecode, format, err)
	}
	p := newPyramid(img)
	out := make([]Output, len(specs))
	for i, spec := range specs {
		if out[i].Data, out[i].ContentType, err = encodeStill(still(p, o, spec)); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// sniff checks that data is an image of a supported format within limits, whatever its
// declared contentType says, and returns its format, upright size and orientation.
func sniff(data []byte, contentType string, limits Limits) (format string, w, h int, o orientation, err error) {
	if !Supported(contentType) {
		return "", 0, 0, 0, fmt.Errorf("%w: %q", ErrUnsupported, contentType)
	}
	format, w, h, o, err = probe(bytes.NewReader(data), limits)
	if errors.Is(err, ErrUnsupported) && format == "" {
		// Declared as a supported image, but no known signature.
		return "", 0, 0, 0, fmt.Errorf("%w: data is not a %s image", ErrDecode, contentType)
	}
	return format, w, h, o, err
}

// still makes the thumbnail of img, whose EXIF orientation is o. Geometry is
// worked out on the upright picture, but the stored pixels are resampled as
// they are and only the thumbnail is turned upright: scaling commutes with
// quarter turns and mirroring, and turning the full-size source first would
// hold a second copy of it (128 MB at DefaultMaxPixels).
func still(img *pyramid, o orientation, spec Spec) *image.RGBA {
	b := img.base.Bounds()
	w, h := b.Dx(), b.Dy()
	if o.swapsSides() {
		w, h = h, w
	}
	sr, dw, dh := geometry(image.Rect(0, 0, w, h), spec)
	dst := image.NewRGBA(image.Rect(0, 0, dw, dh))
	if o == topLeft {
		resample(dst, img, sr.Add(b.Min))
		return dst
	}
	sw, sh := dw, dh
	if o.swapsSides() {
		sw, sh = dh, dw
	}
	stored := image.NewRGBA(image.Rect(0, 0, sw, sh))
	resample(stored, img, o.storedRect(sr, w, h).Add(b.Min))
	orient(dst, stored, o)
	return dst
}

func encodeStill(img *image.RGBA) ([]byte, string, error) {
	var buf bytes.Buffer
	if img.Opaque() {
		if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 80}); err != nil {
			return nil, "", fmt.Errorf("thumbnail: encode jpeg: %w", err)
		}
		return buf.Bytes(), "image/jpeg", nil
	}
	if err := png.Encode(&buf, img); err != nil {
		return nil, "", fmt.Errorf("thumbnail: encode png: %w", err)
	}
	return buf.Bytes(), "image/png", nil
}

// geometry returns the source rectangle to read from b and the output size.
//
// Scale fits b within spec, keeping the aspect ratio; a source that already
// fits keeps its size. Crop takes the largest centred part of b with spec's
// aspect ratio and scales it down to exactly spec's size, or keeps it at its
// own size when it is smaller than spec (servers MUST NOT upscale).
func geometry(b image.Rectangle, spec Spec) (sr image.Rectangle, dw, dh int) {
	sw, sh := int64(b.Dx()), int64(b.Dy())
	W, H := int64(spec.Width), int64(spec.Height)
	if spec.Method == Scale {
		switch {
		case sw <= W && sh <= H:
			return b, int(sw), int(sh)
		case W*sh <= H*sw: // width is the binding side
			return b, int(W), int(max(1, divRound(sh*W, sw)))
		default:
			return b, int(max(1, divRound(sw*H, sh))), int(H)
		}
	}
	cw, ch := sw, sh
	if sw*H > sh*W { // source is wider than spec: full height
		cw = max(1, min(sw, divRound(sh*W, H)))
	} else {
		ch = max(1, min(sh, divRound(sw*H, W)))
	}
	x0, y0 := b.Min.X+int((sw-cw)/2), b.Min.Y+int((sh-ch)/2)
	sr = image.Rect(x0, y0, x0+int(cw), y0+int(ch))
	if cw >= W && ch >= H {
		return sr, int(W), int(H)
	}
	return sr, int(cw), int(ch)
}

func divRound(a, b int64) int64 { return (2*a + b) / (2 * b) }

// animatedGIF renders every frame of an animated GIF at the thumbnail size.
// ok is false, with no error, when the GIF has one frame or is too big to
// animate within limits; the caller then makes a still thumbnail.
func animatedGIF(data []byte, w, h int, spec Spec, limits Limits) (out []byte, ok bool, err error) {
	frames := gifFrameCount(data)
	if frames < 2 || frames > limits.MaxFrames || int64(frames)*int64(w)*int64(h) > limits.MaxPixels {
		return nil, false, nil
	}
	g, err := gif.DecodeAll(bytes.NewReader(data))
	if err != nil {
		return nil, false, fmt.Errorf("%w: gif: %w", ErrDecode, err)
	}
	if len(g.Image) < 2 {
		return nil, false, nil
	}
	screen := image.Rect(0, 0, g.Config.Width, g.Config.Height)
	sr, dw, dh := geometry(screen, spec)

	// Frames may cover only part of the screen and rely on what earlier frames
	// left behind, so each one is composited onto a full canvas (honouring its
	// disposal) before that canvas is scaled. Output frames are therefore
	// complete pictures, disposed to background so transparency stays right.
	canvas := image.NewRGBA(screen)
	var saved *image.RGBA
	scaled := image.NewRGBA(image.Rect(0, 0, dw, dh))
	res := &gif.GIF{LoopCount: g.LoopCount, Config: image.Config{Width: dw, Height: dh}}
	for i, fr := range g.Image {
		var disposal byte
		if i < len(g.Disposal) {
			disposal = g.Disposal[i]
		}
		if disposal == gif.DisposalPrevious {
			saved = image.NewRGBA(fr.Bounds())
			draw.Copy(saved, fr.Bounds().Min, canvas, fr.Bounds(), draw.Src, nil)
		}
		draw.Draw(canvas, fr.Bounds(), fr, fr.Bounds().Min, draw.Over)
		resample(scaled, newPyramid(canvas), sr)
		res.Image = append(res.Image, quantize(scaled, fr.Palette))
		res.Delay = append(res.Delay, g.Delay[i])
		res.Disposal = append(res.Disposal, gif.DisposalBackground)
		switch disposal {
		case gif.DisposalBackground:
			draw.Draw(canvas, fr.Bounds(), image.Transparent, image.Point{}, draw.Src)
		case gif.DisposalPrevious:
			draw.Draw(canvas, fr.Bounds(), saved, fr.Bounds().Min, draw.Src)
		}
	}
	var buf bytes.Buffer
	if err := gif.EncodeAll(&buf, res); err != nil {
		return nil, false, fmt.Errorf("thumbnail: encode gif: %w", err)
	}
	return buf.Bytes(), true, nil
}

// quantize maps img onto the source frame's palette (plus a transparent entry
// if needed) by nearest colour. There is no dithering: dither noise changes
// from frame to frame and makes animations shimmer. A cache keeps the
// palette search off the per-pixel path, since scaled frames repeat colours.
func quantize(img *image.RGBA, src color.Palette) *image.Paletted {
	pal := make(color.Palette, len(src), max(len(src), 1))
	copy(pal, src)
	if !img.Opaque() && !hasTransparent(pal) {
		if len(pal) < 256 {
			pal = append(pal, color.RGBA{})
		} else {
			pal[len(pal)-1] = color.RGBA{}
		}
	}
	dst := image.NewPaletted(img.Bounds(), pal)
	cache := make(map[uint32]uint8)
	for i := 0; i+3 < len(img.Pix); i += 4 {
		p := img.Pix[i : i+4 : i+4]
		key := uint32(p[0])<<24 | uint32(p[1])<<16 | uint32(p[2])<<8 | uint32(p[3])
		idx, ok := cache[key]
		if !ok {
			idx = uint8(pal.Index(color.RGBA{p[0], p[1], p[2], p[3]}))
			cache[key] = idx
		}
		dst.Pix[i/4] = idx
	}
	return dst
}

func hasTransparent(pal color.Palette) bool {
	for _, c := range pal {
		if _, _, _, a := c.RGBA(); a == 0 {
			return true
		}
	}
	return false
}

// gifFrameCount counts image descriptors by walking the GIF block structure
// without decompressing anything, so that an animation's total size can be
// checked before gif.DecodeAll holds every frame in memory. Malformed or
// truncated data yields the frames seen so far; the decoder reports the error.
func gifFrameCount(data []byte) int {
	if len(data) < 13 {
		return 0
	}
	pos := 13
	if flags := data[10]; flags&0x80 != 0 {
		pos += 3 << ((flags & 7) + 1)
	}
	skipSubBlocks := func() bool {
		for pos < len(data) {
			n := int(data[pos])
			pos += 1 + n
			if n == 0 {
				return true
			}
		}
		return false
	}
	frames := 0
	for pos < len(data) {
		switch data[pos] {
		case 0x21: // extension: introducer, label, sub-blocks
			pos += 2
			if !skipSubBlocks() {
				return frames
			}
		case 0x2C: // image descriptor
			if pos+10 > len(data) {
				return frames
			}
			flags := data[pos+9]
			pos += 10
			if flags&0x80 != 0 {
				pos += 3 << ((flags & 7) + 1)
			}
			pos++ // LZW minimum code size
			if !skipSubBlocks() {
				return frames
			}
			frames++
		default: // 0x3B trailer, or garbage
			return frames
		}
	}
	return frames
}

// Nearest picks which of the available (already generated) thumbnails to
// serve for spec, following the spec's "the server will return an image
// larger than or equal to the dimensions requested where possible":
//
//  1. Thumbnails of spec.Method are considered; only if there are none, all are.
//  2. Animated thumbnails are never picked unless spec.Animated (the spec says
//     the server MUST NOT return one when animated is false). When it is set,
//     an animated thumbnail beats a static one of the same size class.
//  3. Among thumbnails at least spec.Width x spec.Height, the smallest area wins.
//  4. If none is that large, the largest area wins: the closest from below.
//
// Ties go to the earlier entry. Nearest returns the zero Spec when nothing
// qualifies (available is empty, or holds only animated thumbnails and
// spec.Animated is false); the caller then generates one.
func Nearest(spec Spec, available []Spec) Spec {
	anyMethod := true
	for _, a := range available {
		if a.Method == spec.Method && (spec.Animated || !a.Animated) {
			anyMethod = false
			break
		}
	}
	type rank struct {
		tooSmall, staticForAnimated bool
		area                        int64 // smaller is better
	}
	less := func(a, b rank) bool {
		if a.tooSmall != b.tooSmall {
			return !a.tooSmall
		}
		if a.staticForAnimated != b.staticForAnimated {
			return !a.staticForAnimated
		}
		return a.area < b.area
	}
	var best Spec
	var bestRank rank
	found := false
	for _, a := range available {
		if (!anyMethod && a.Method != spec.Method) || (a.Animated && !spec.Animated) {
			continue
		}
		r := rank{
			tooSmall:          a.Width < spec.Width || a.Height < spec.Height,
			staticForAnimated: spec.Animated && !a.Animated,
			area:              int64(a.Width) * int64(a.Height),
		}
		if r.tooSmall {
			r.area = -r.area
		}
		if !found || less(r, bestRank) {
			best, bestRank, found = a, r, true
		}
	}
	return best
}
