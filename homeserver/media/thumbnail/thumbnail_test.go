package thumbnail

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image"
	"image/color"
	"image/color/palette"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/image/draw"
)

// gradient is an opaque test picture with some structure to scale.
func gradient(w, h int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.SetRGBA(x, y, color.RGBA{uint8(x * 255 / w), uint8(y * 255 / h), uint8((x ^ y) & 0xff), 0xff})
		}
	}
	return img
}

func encodeJPEG(t testing.TB, w, h int) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, gradient(w, h), &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func encodePNG(t testing.TB, img image.Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// alphaPNG has a transparent left half.
func alphaPNG(t testing.TB, w, h int) []byte {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			a := uint8(0xff)
			if x < w/2 {
				a = 0
			}
			img.SetNRGBA(x, y, color.NRGBA{200, uint8(y), 50, a})
		}
	}
	return encodePNG(t, img)
}

// animatedGIFData has two frames; the second covers only part of the screen,
// so compositing matters.
func animatedGIFData(t testing.TB, w, h int) []byte {
	t.Helper()
	f1 := image.NewPaletted(image.Rect(0, 0, w, h), palette.WebSafe)
	for i := range f1.Pix {
		f1.Pix[i] = uint8(i % 200)
	}
	f2 := image.NewPaletted(image.Rect(w/4, h/4, w/2, h/2), palette.WebSafe)
	for i := range f2.Pix {
		f2.Pix[i] = 5
	}
	var buf bytes.Buffer
	err := gif.EncodeAll(&buf, &gif.GIF{
		Image: []*image.Paletted{f1, f2}, Delay: []int{10, 20}, LoopCount: 0,
		Config: image.Config{Width: w, Height: h, ColorModel: color.Palette(palette.WebSafe)},
	})
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

type result struct {
	ContentType   string
	Width, Height int
	Frames        int
}

func describe(t *testing.T, out []byte, ct string) result {
	t.Helper()
	r := result{ContentType: ct, Frames: 1}
	if ct == "image/gif" {
		g, err := gif.DecodeAll(bytes.NewReader(out))
		if err != nil {
			t.Fatalf("output does not decode as gif: %v", err)
		}
		r.Width, r.Height, r.Frames = g.Config.Width, g.Config.Height, len(g.Image)
		for i, fr := range g.Image {
			if fr.Bounds() != image.Rect(0, 0, r.Width, r.Height) {
				t.Errorf("frame %d bounds %v, want the whole %dx%d", i, fr.Bounds(), r.Width, r.Height)
			}
		}
		return r
	}
	img, format, err := image.Decode(bytes.NewReader(out))
	if err != nil {
		t.Fatalf("output does not decode: %v", err)
	}
	if "image/"+format != ct {
		t.Errorf("output is %s, labelled %s", format, ct)
	}
	r.Width, r.Height = img.Bounds().Dx(), img.Bounds().Dy()
	return r
}

func TestGenerate(t *testing.T) {
	t.Parallel()
	jpg := encodeJPEG(t, 400, 300)
	pngAlpha := alphaPNG(t, 300, 400)
	pngOpaque := encodePNG(t, gradient(200, 100))
	anim := animatedGIFData(t, 120, 90)
	webpOpaque := readTestdata(t, "opaque.lossy.webp")  // 150x100
	webpAlpha := readTestdata(t, "alpha.lossless.webp") // 75x100

	tests := []struct {
		name        string
		data        []byte
		contentType string
		spec        Spec
		want        result
	}{
		{"jpeg scale 320x240", jpg, "image/jpeg", Spec{320, 240, Scale, false}, result{"image/jpeg", 320, 240, 1}},
		{"jpeg scale 96x96 fits width", jpg, "image/jpeg", Spec{96, 96, Scale, false}, result{"image/jpeg", 96, 72, 1}},
		{"jpeg scale never upscales", jpg, "image/jpeg", Spec{800, 600, Scale, false}, result{"image/jpeg", 400, 300, 1}},
		{"jpeg crop 96x96", jpg, "image/jpeg", Spec{96, 96, Crop, false}, result{"image/jpeg", 96, 96, 1}},
		{"jpeg crop 32x32", jpg, "image/jpeg", Spec{32, 32, Crop, false}, result{"image/jpeg", 32, 32, 1}},
		{"jpeg crop larger than source keeps aspect", jpg, "image/jpeg", Spec{640, 640, Crop, false}, result{"image/jpeg", 300, 300, 1}},
		{"jpeg animated ignored", jpg, "image/jpeg", Spec{96, 96, Crop, true}, result{"image/jpeg", 96, 96, 1}},
		{"jpeg content type with params", jpg, "image/JPEG; foo=bar", Spec{32, 32, Crop, false}, result{"image/jpeg", 32, 32, 1}},
		{"png alpha scale", pngAlpha, "image/png", Spec{320, 240, Scale, false}, result{"image/png", 180, 240, 1}},
		{"png alpha crop", pngAlpha, "image/png", Spec{96, 96, Crop, false}, result{"image/png", 96, 96, 1}},
		{"opaque png becomes jpeg", pngOpaque, "image/png", Spec{96, 96, Scale, false}, result{"image/jpeg", 96, 48, 1}},
		{"mislabelled png is sniffed", pngOpaque, "image/jpeg", Spec{32, 32, Crop, false}, result{"image/jpeg", 32, 32, 1}},
		{"gif first frame", anim, "image/gif", Spec{32, 32, Crop, false}, result{"image/jpeg", 32, 32, 1}},
		{"gif animated scale", anim, "image/gif", Spec{60, 60, Scale, true}, result{"image/gif", 60, 45, 2}},
		{"gif animated crop", anim, "image/gif", Spec{32, 32, Crop, true}, result{"image/gif", 32, 32, 2}},
		{"webp opaque scale", webpOpaque, "image/webp", Spec{96, 96, Scale, false}, result{"image/jpeg", 96, 64, 1}},
		{"webp opaque crop", webpOpaque, "image/webp", Spec{32, 32, Crop, false}, result{"image/jpeg", 32, 32, 1}},
		{"webp alpha scale", webpAlpha, "image/webp", Spec{32, 32, Scale, false}, result{"image/png", 24, 32, 1}},
		{"webp alpha crop", webpAlpha, "image/webp", Spec{96, 96, Crop, false}, result{"image/png", 75, 75, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			out, ct, err := Generate(tt.data, tt.contentType, tt.spec, Limits{})
			if err != nil {
				t.Fatalf("Generate: %v", err)
			}
			if diff := cmp.Diff(tt.want, describe(t, out, ct)); diff != "" {
				t.Errorf("output mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestGenerateAnimatedFallsBackToStill(t *testing.T) {
	t.Parallel()
	anim := animatedGIFData(t, 120, 90)
	tests := []struct {
		name   string
		limits Limits
	}{
		{"too many frames", Limits{MaxFrames: 1}},
		{"frames times pixels over limit", Limits{MaxPixels: 120 * 90 * 3 / 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			out, ct, err := Generate(anim, "image/gif", Spec{60, 60, Scale, true}, tt.limits)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(result{"image/jpeg", 60, 45, 1}, describe(t, out, ct)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestGenerateErrors(t *testing.T) {
	t.Parallel()
	jpg := encodeJPEG(t, 64, 48)
	pngData := encodePNG(t, gradient(64, 48))
	anim := animatedGIFData(t, 40, 30)
	ok := Spec{32, 32, Crop, false}
	tests := []struct {
		name        string
		data        []byte
		contentType string
		spec        Spec
		limits      Limits
		want        error
	}{
		{"svg", []byte("<svg/>"), "image/svg+xml", ok, Limits{}, ErrUnsupported},
		{"video", jpg, "video/mp4", ok, Limits{}, ErrUnsupported},
		{"empty content type", jpg, "", ok, Limits{}, ErrUnsupported},
		{"garbage labelled png", []byte("definitely not an image at all"), "image/png", ok, Limits{}, ErrDecode},
		{"truncated png", pngData[:len(pngData)/2], "image/png", ok, Limits{}, ErrDecode},
		{"corrupt png crc", flipByte(pngData, len(pngData)/2), "image/png", ok, Limits{}, ErrDecode},
		{"truncated jpeg", jpg[:len(jpg)/3], "image/jpeg", ok, Limits{}, ErrDecode},
		{"truncated animated gif", anim[:800], "image/gif", Spec{16, 16, Scale, true}, Limits{}, ErrDecode},
		{"empty", nil, "image/jpeg", ok, Limits{}, ErrDecode},
		{"zero width", jpg, "image/jpeg", Spec{0, 32, Crop, false}, Limits{}, ErrInvalidSpec},
		{"absurd height", jpg, "image/jpeg", Spec{32, 1 << 30, Scale, false}, Limits{}, ErrInvalidSpec},
		{"unknown method", jpg, "image/jpeg", Spec{32, 32, "stretch", false}, Limits{}, ErrInvalidSpec},
		{"over pixel limit", jpg, "image/jpeg", ok, Limits{MaxPixels: 64*48 - 1}, ErrTooLarge},
		{"over width limit", jpg, "image/jpeg", ok, Limits{MaxWidth: 63}, ErrTooLarge},
		{"over height limit", jpg, "image/jpeg", ok, Limits{MaxHeight: 47}, ErrTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			out, _, err := Generate(tt.data, tt.contentType, tt.spec, tt.limits)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Generate error = %v, want %v", err, tt.want)
			}
			if out != nil {
				t.Errorf("Generate returned %d bytes with an error", len(out))
			}
		})
	}
}

func flipByte(b []byte, i int) []byte {
	c := bytes.Clone(b)
	c[i] ^= 0xff
	return c
}

// pngHeader is a valid PNG signature and IHDR claiming w x h RGBA.
func pngHeader(w, h uint32) []byte {
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	ihdr[8], ihdr[9] = 8, 6 // 8-bit RGBA
	chunk := append([]byte("IHDR"), ihdr...)
	b := []byte("\x89PNG\r\n\x1a\n")
	b = binary.BigEndian.AppendUint32(b, 13)
	b = append(b, chunk...)
	return binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(chunk))
}

// gifHeader is a GIF89a header and logical screen descriptor claiming w x h.
func gifHeader(w, h uint16) []byte {
	b := []byte("GIF89a")
	b = binary.LittleEndian.AppendUint16(b, w)
	b = binary.LittleEndian.AppendUint16(b, h)
	return append(b, 0, 0, 0) // no global colour table
}

// jpegHeader is SOI, a JFIF APP0 and a baseline SOF0 claiming w x h, 3
// components. Without JFIF, image/jpeg keeps reading to SOS looking for an
// Adobe marker; a real file reaches SOS within its own length.
func jpegHeader(w, h uint16) []byte {
	b := []byte{0xff, 0xd8, 0xff, 0xe0, 0, 16, 'J', 'F', 'I', 'F', 0, 1, 1, 0, 0, 1, 0, 1, 0, 0}
	b = append(b, 0xff, 0xc0, 0, 17, 8)
	b = binary.BigEndian.AppendUint16(b, h)
	b = binary.BigEndian.AppendUint16(b, w)
	return append(b, 3, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1)
}

// bombReader serves a header followed by 64 MiB of pixel-data filler,
// counting what was read. A decoder that went past the header would read
// megabytes.
type bombReader struct {
	header []byte
	n      int64
}

func (r *bombReader) Read(p []byte) (int, error) {
	if r.n < int64(len(r.header)) {
		k := copy(p, r.header[r.n:])
		r.n += int64(k)
		return k, nil
	}
	if r.n >= 64<<20 {
		return 0, io.EOF
	}
	for i := range p {
		p[i] = 0x55
	}
	r.n += int64(len(p))
	return len(p), nil
}

func TestProbeRefusesBombBeforeDecoding(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name          string
		header        []byte
		format        string
		width, height int
	}{
		{"png 100000x100000", pngHeader(100000, 100000), "png", 100000, 100000},
		{"png 1x20000000 over side limit", pngHeader(1, 20_000_000), "png", 1, 20_000_000},
		{"gif 65535x65535", gifHeader(65535, 65535), "gif", 65535, 65535},
		{"jpeg 65535x65535", jpegHeader(65535, 65535), "jpeg", 65535, 65535},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := &bombReader{header: tt.header}
			format, w, h, err := Probe(r, Limits{})
			if !errors.Is(err, ErrTooLarge) {
				t.Fatalf("Probe error = %v, want ErrTooLarge", err)
			}
			if format != tt.format || w != tt.width || h != tt.height {
				t.Errorf("Probe = %s %dx%d, want %s %dx%d", format, w, h, tt.format, tt.width, tt.height)
			}
			// bufio inside image.DecodeConfig reads one 4 KiB buffer.
			if r.n > 8<<10 {
				t.Errorf("Probe read %d bytes; the header is %d", r.n, len(tt.header))
			}

			// Generate must refuse the same header, followed by lots of
			// "compressed data", quickly and without allocating the image.
			data := append(bytes.Clone(tt.header), bytes.Repeat([]byte{0x55}, 1<<20)...)
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			start := time.Now()
			_, _, err = Generate(data, "image/"+tt.format, Spec{96, 96, Crop, false}, Limits{})
			elapsed := time.Since(start)
			runtime.ReadMemStats(&after)
			if !errors.Is(err, ErrTooLarge) {
				t.Fatalf("Generate error = %v, want ErrTooLarge", err)
			}
			// Other parallel subtests allocate too, so this is a loose bound;
			// decoding would need gigabytes.
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 64<<20 {
				t.Errorf("Generate allocated %d bytes before refusing", alloc)
			}
			if elapsed > 2*time.Second {
				t.Errorf("Generate took %v to refuse", elapsed)
			}
		})
	}
}

func TestProbeAllocatesLittle(t *testing.T) {
	header := pngHeader(100000, 100000)
	allocs := testing.AllocsPerRun(20, func() {
		if _, _, _, err := Probe(bytes.NewReader(header), Limits{}); !errors.Is(err, ErrTooLarge) {
			t.Fatal(err)
		}
	})
	if allocs > 20 {
		t.Errorf("Probe made %v allocations", allocs)
	}
}

func TestProbe(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name          string
		data          []byte
		format        string
		width, height int
		err           error
	}{
		{"jpeg", encodeJPEG(t, 40, 30), "jpeg", 40, 30, nil},
		{"png", alphaPNG(t, 10, 20), "png", 10, 20, nil},
		{"gif", animatedGIFData(t, 16, 8), "gif", 16, 8, nil},
		{"webp", readTestdata(t, "opaque.lossy.webp"), "webp", 150, 100, nil},
		{"unknown", []byte("BM this is a bitmap, honest"), "", 0, 0, ErrUnsupported},
		{"broken png header", pngHeader(10, 10)[:20], "png", 0, 0, ErrDecode},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			format, w, h, err := Probe(bytes.NewReader(tt.data), Limits{})
			if !errors.Is(err, tt.err) {
				t.Fatalf("Probe error = %v, want %v", err, tt.err)
			}
			if format != tt.format || w != tt.width || h != tt.height {
				t.Errorf("Probe = %s %dx%d, want %s %dx%d", format, w, h, tt.format, tt.width, tt.height)
			}
		})
	}
}

func TestGeometry(t *testing.T) {
	t.Parallel()
	type geo struct {
		Src    image.Rectangle
		W, H   int
		Method Method
	}
	tests := []struct {
		name string
		in   geo
		sr   image.Rectangle
		w, h int
	}{
		{"scale landscape", geo{image.Rect(0, 0, 4000, 3000), 320, 240, Scale}, image.Rect(0, 0, 4000, 3000), 320, 240},
		{"scale portrait", geo{image.Rect(0, 0, 3000, 4000), 320, 240, Scale}, image.Rect(0, 0, 3000, 4000), 180, 240},
		{"scale panorama", geo{image.Rect(0, 0, 10000, 100), 320, 240, Scale}, image.Rect(0, 0, 10000, 100), 320, 3},
		{"scale extreme keeps a pixel", geo{image.Rect(0, 0, 10000, 1), 32, 32, Scale}, image.Rect(0, 0, 10000, 1), 32, 1},
		{"scale smaller source", geo{image.Rect(0, 0, 100, 50), 320, 240, Scale}, image.Rect(0, 0, 100, 50), 100, 50},
		{"crop square from landscape", geo{image.Rect(0, 0, 4000, 3000), 96, 96, Crop}, image.Rect(500, 0, 3500, 3000), 96, 96},
		{"crop square from portrait", geo{image.Rect(0, 0, 300, 400), 96, 96, Crop}, image.Rect(0, 50, 300, 350), 96, 96},
		{"crop keeps offset bounds", geo{image.Rect(10, 20, 110, 70), 32, 32, Crop}, image.Rect(35, 20, 85, 70), 32, 32},
		{"crop smaller source never upscales", geo{image.Rect(0, 0, 50, 20), 96, 96, Crop}, image.Rect(15, 0, 35, 20), 20, 20},
		{"crop wide from short source", geo{image.Rect(0, 0, 1000, 100), 320, 240, Crop}, image.Rect(433, 0, 566, 100), 133, 100},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			sr, w, h := geometry(tt.in.Src, Spec{Width: tt.in.W, Height: tt.in.H, Method: tt.in.Method})
			if sr != tt.sr || w != tt.w || h != tt.h {
				t.Errorf("geometry = %v %dx%d, want %v %dx%d", sr, w, h, tt.sr, tt.w, tt.h)
			}
		})
	}
}

func TestNearest(t *testing.T) {
	t.Parallel()
	animated := Spec{320, 240, Scale, true}
	withAnimated := append(append([]Spec(nil), StandardSizes...), animated)
	tests := []struct {
		name      string
		spec      Spec
		available []Spec
		want      Spec
	}{
		{"exact", Spec{96, 96, Crop, false}, StandardSizes, Spec{96, 96, Crop, false}},
		{"next larger crop", Spec{50, 50, Crop, false}, StandardSizes, Spec{96, 96, Crop, false}},
		{"crop larger than all crops takes largest crop", Spec{200, 200, Crop, false}, StandardSizes, Spec{96, 96, Crop, false}},
		{"next larger scale", Spec{400, 300, Scale, false}, StandardSizes, Spec{640, 480, Scale, false}},
		{"one side larger is not enough", Spec{330, 100, Scale, false}, StandardSizes, Spec{640, 480, Scale, false}},
		{"scale larger than all takes largest", Spec{1920, 1080, Scale, false}, StandardSizes, Spec{800, 600, Scale, false}},
		{"small scale", Spec{10, 10, Scale, false}, StandardSizes, Spec{320, 240, Scale, false}},
		{"other method when none match", Spec{64, 64, Scale, false}, StandardSizes[:2], Spec{96, 96, Crop, false}},
		{"static request never gets animated", Spec{300, 200, Scale, false}, withAnimated, Spec{320, 240, Scale, false}},
		{"animated request prefers animated", Spec{300, 200, Scale, true}, withAnimated, animated},
		{"animated request takes static if larger needed", Spec{600, 400, Scale, true}, withAnimated, Spec{640, 480, Scale, false}},
		{"only animated available for static", Spec{32, 32, Scale, false}, []Spec{animated}, Spec{}},
		{"nothing available", Spec{32, 32, Crop, false}, nil, Spec{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(tt.want, Nearest(tt.spec, tt.available)); diff != "" {
				t.Errorf("Nearest (-want +got):\n%s", diff)
			}
		})
	}
}

func TestGIFFrameCount(t *testing.T) {
	t.Parallel()
	anim := animatedGIFData(t, 20, 10)
	tests := []struct {
		name string
		data []byte
		want int
	}{
		{"two frames", anim, 2},
		{"truncated in second frame", anim[:len(anim)-10], 1},
		{"header only", gifHeader(10, 10), 0},
		{"too short", []byte("GIF8"), 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := gifFrameCount(tt.data); got != tt.want {
				t.Errorf("gifFrameCount = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestSpecValidate(t *testing.T) {
	t.Parallel()
	for _, s := range StandardSizes {
		if err := s.Validate(); err != nil {
			t.Errorf("%+v: %v", s, err)
		}
	}
}

// TestPyramidMatchesCatmullRom checks that halving before CatmullRom does not
// visibly change the result against CatmullRom alone.
func TestPyramidMatchesCatmullRom(t *testing.T) {
	t.Parallel()
	src := gradient(2400, 1800)
	for i := range src.Pix { // add fine detail that a careless reduction would alias
		if i%4 != 3 && (i/4)%3 == 0 {
			src.Pix[i] ^= 0x3f
		}
	}
	got := image.NewRGBA(image.Rect(0, 0, 160, 120))
	resample(got, newPyramid(src), src.Bounds())
	want := image.NewRGBA(got.Bounds())
	draw.CatmullRom.Scale(want, want.Bounds(), src, src.Bounds(), draw.Src, nil)
	var sum int
	for i := range got.Pix {
		d := int(got.Pix[i]) - int(want.Pix[i])
		sum += max(d, -d)
	}
	if mean := float64(sum) / float64(len(got.Pix)); mean > 2 {
		t.Errorf("pyramid differs from CatmullRom by %.2f levels per channel on average", mean)
	} else {
		t.Logf("mean difference %.2f levels per channel", mean)
	}
}

func TestGenerateStillsMatchesGenerate(t *testing.T) {
	data := encodeJPEG(t, 400, 300)
	stills, err := GenerateStills(data, "image/jpeg", StandardSizes, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	for i, spec := range StandardSizes {
		want, wantType, err := Generate(data, "image/jpeg", spec, Limits{})
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(stills[i].Data, want) || stills[i].ContentType != wantType {
			t.Errorf("%+v: GenerateStills differs from Generate", spec)
		}
	}
	if _, err := GenerateStills(data, "image/jpeg", []Spec{{Width: 0, Height: 1, Method: Crop}}, Limits{}); !errors.Is(err, ErrInvalidSpec) {
		t.Errorf("invalid spec: %v", err)
	}
	if _, err := GenerateStills(pngHeader(1<<20, 1<<20), "image/png", StandardSizes, Limits{}); !errors.Is(err, ErrTooLarge) {
		t.Errorf("bomb: %v", err)
	}
}

// TestHalveYCbCrMatchesRGBA checks the YCbCr halving against halving the image converted to
// RGBA, for each chroma subsampling a JPEG may use.
func TestHalveYCbCrMatchesRGBA(t *testing.T) {
	t.Parallel()
	for _, ratio := range []image.YCbCrSubsampleRatio{image.YCbCrSubsampleRatio420, image.YCbCrSubsampleRatio422, image.YCbCrSubsampleRatio444} {
		src := image.NewYCbCr(image.Rect(0, 0, 64, 48), ratio)
		for i := range src.Y {
			src.Y[i] = uint8(i * 7)
		}
		for i := range src.Cb {
			src.Cb[i], src.Cr[i] = uint8(100+i%50), uint8(160-i%40)
		}
		got, want := halveYCbCr(src), halve(toRGBA(src))
		var sum int
		for i := range got.Pix {
			d := int(got.Pix[i]) - int(want.Pix[i])
			sum += max(d, -d)
		}
		if mean := float64(sum) / float64(len(got.Pix)); mean > 1.5 {
			t.Errorf("%v: differs from the RGBA route by %.2f levels per channel on average", ratio, mean)
		}
	}
}
