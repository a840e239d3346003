package thumbnail

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"testing"
)

var (
	red   = color.RGBA{0xff, 0, 0, 0xff}
	green = color.RGBA{0, 0xff, 0, 0xff}
	blue  = color.RGBA{0, 0, 0xff, 0xff}
)

// quadrants is the upright 64x32 test picture: red top-left quarter, green
// top-right quarter, blue bottom half. Each of the eight orientations shows it
// differently, so a wrong transform cannot pass. Blocks are multiples of 16
// pixels so that JPEG's 4:2:0 chroma blocks never straddle two colours.
func quadrants() *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, 64, 32))
	for y := range 32 {
		for x := range 64 {
			c := blue
			if y < 16 {
				c = red
				if x >= 32 {
					c = green
				}
			}
			img.SetRGBA(x, y, c)
		}
	}
	return img
}

// The stored picture for each orientation is built with these, written
// independently of the package's toStored so that the test is not circular.

// rotateCW turns src a quarter turn clockwise.
func rotateCW(src *image.RGBA) *image.RGBA {
	w, h := src.Bounds().Dx(), src.Bounds().Dy()
	dst := image.NewRGBA(image.Rect(0, 0, h, w))
	for y := range h {
		for x := range w {
			// Row y of src becomes column h-1-y of dst, read downwards.
			dst.SetRGBA(h-1-y, x, src.RGBAAt(x, y))
		}
	}
	return dst
}

func mirror(src *image.RGBA) *image.RGBA {
	w, h := src.Bounds().Dx(), src.Bounds().Dy()
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			dst.SetRGBA(w-1-x, y, src.RGBAAt(x, y))
		}
	}
	return dst
}

// storedAs returns what a camera writes for the upright picture up when it
// records orientation o. The EXIF descriptions are of the turn a viewer must
// apply (6: "rotate 90 CW"), so the stored picture is the opposite turn.
func storedAs(up *image.RGBA, o int) *image.RGBA {
	cw := rotateCW
	switch o {
	case 2: // viewer mirrors
		return mirror(up)
	case 3: // viewer turns 180°
		return cw(cw(up))
	case 4: // viewer flips top to bottom
		return cw(cw(mirror(up)))
	case 5: // viewer transposes (self-inverse): mirror, then turn anticlockwise
		return cw(cw(cw(mirror(up))))
	case 6: // viewer turns clockwise, so the camera stored it anticlockwise
		return cw(cw(cw(up)))
	case 7: // viewer transverses (self-inverse): mirror, then turn clockwise
		return cw(mirror(up))
	case 8: // viewer turns anticlockwise
		return cw(up)
	}
	return up
}

// exifAPP1 builds an APP1 segment holding an EXIF block whose IFD0 has
// an ImageWidth entry, then Orientation = o (a SHORT), then ResolutionUnit.
func exifAPP1(bo byteOrder, o uint16) []byte {
	tiff := []byte("II")
	if bo == binary.BigEndian {
		tiff = []byte("MM")
	}
	tiff = bo.AppendUint16(tiff, 42)
	tiff = bo.AppendUint32(tiff, 8) // IFD0 right after the header
	tiff = bo.AppendUint16(tiff, 3) // entries
	entry := func(tag, typ uint16, val uint16) {
		tiff = bo.AppendUint16(tiff, tag)
		tiff = bo.AppendUint16(tiff, typ)
		tiff = bo.AppendUint32(tiff, 1)
		tiff = bo.AppendUint16(tiff, val)
		tiff = append(tiff, 0, 0)
	}
	entry(0x0100, 3, 64)
	entry(0x0112, 3, o)
	entry(0x0128, 3, 2)
	tiff = bo.AppendUint32(tiff, 0) // no IFD1
	return app(0xe1, append([]byte("Exif\x00\x00"), tiff...))
}

// app wraps payload in a marker segment.
func app(marker byte, payload []byte) []byte {
	b := []byte{0xff, marker}
	b = binary.BigEndian.AppendUint16(b, uint16(2+len(payload)))
	return append(b, payload...)
}

// spliceAfterSOI inserts segments right after a JPEG's SOI marker, where
// cameras put APP1. image/jpeg writes no APP segments of its own.
func spliceAfterSOI(jpg []byte, segments ...[]byte) []byte {
	out := bytes.Clone(jpg[:2])
	for _, s := range segments {
		out = append(out, s...)
	}
	return append(out, jpg[2:]...)
}

func encodeImageJPEG(t testing.TB, img image.Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 95}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

type byteOrder interface {
	binary.ByteOrder
	binary.AppendByteOrder
}

var byteOrders = []struct {
	name string
	bo   byteOrder
}{{"II", binary.LittleEndian}, {"MM", binary.BigEndian}}

// checkColour fails unless the pixel at (x, y) of img is clearly c, allowing
// for JPEG noise.
func checkColour(t *testing.T, img image.Image, x, y int, c color.RGBA) {
	t.Helper()
	r, g, b, _ := img.At(x, y).RGBA()
	got := [3]int{int(r >> 8), int(g >> 8), int(b >> 8)}
	want := [3]int{int(c.R), int(c.G), int(c.B)}
	for i := range got {
		if d := got[i] - want[i]; d > 64 || d < -64 {
			t.Errorf("pixel (%d,%d) = rgb%v, want about rgb%v", x, y, got, want)
			return
		}
	}
}

func TestGenerateAppliesOrientation(t *testing.T) {
	t.Parallel()
	up := quadrants()
	tests := []struct {
		spec          Spec
		width, height int
		// Sample points in the red, green and blue areas of the output.
		red, green, blue image.Point
	}{
		{Spec{32, 32, Scale, false}, 32, 16, image.Pt(7, 4), image.Pt(24, 4), image.Pt(16, 12)},
		// Crop keeps the middle 64x16 rows: the upper half is red and green.
		{Spec{40, 10, Crop, false}, 40, 10, image.Pt(8, 1), image.Pt(32, 1), image.Pt(20, 8)},
		// Crop keeps the middle 32x32.
		{Spec{16, 16, Crop, false}, 16, 16, image.Pt(3, 3), image.Pt(12, 3), image.Pt(8, 12)},
		// No resampling at all.
		{Spec{800, 600, Scale, false}, 64, 32, image.Pt(8, 8), image.Pt(56, 8), image.Pt(32, 24)},
	}
	for o := 1; o <= 8; o++ {
		jpg := encodeImageJPEG(t, storedAs(up, o))
		for _, bo := range byteOrders {
			data := spliceAfterSOI(jpg, exifAPP1(bo.bo, uint16(o)))
			for _, tt := range tests {
				t.Run(fmt.Sprintf("%d/%s/%s_%dx%d", o, bo.name, tt.spec.Method, tt.spec.Width, tt.spec.Height), func(t *testing.T) {
					t.Parallel()
					out, ct, err := Generate(data, "image/jpeg", tt.spec, Limits{})
					if err != nil {
						t.Fatal(err)
					}
					img, err := jpeg.Decode(bytes.NewReader(out))
					if err != nil {
						t.Fatalf("%s output: %v", ct, err)
					}
					if got := img.Bounds().Size(); got != image.Pt(tt.width, tt.height) {
						t.Fatalf("thumbnail is %v, want %dx%d", got, tt.width, tt.height)
					}
					checkColour(t, img, tt.red.X, tt.red.Y, red)
					checkColour(t, img, tt.green.X, tt.green.Y, green)
					checkColour(t, img, tt.blue.X, tt.blue.Y, blue)
				})
			}
		}
	}
}

// TestOrientAfterScalingMatchesOrientingFirst checks that turning the
// thumbnail (what still does) gives the picture that turning the source and
// then scaling it would, including through resample's pyramid and an
// off-centre crop of odd size.
func TestOrientAfterScalingMatchesOrientingFirst(t *testing.T) {
	t.Parallel()
	up := gradient(333, 201)
	for o := 2; o <= 8; o++ {
		stored := storedAs(up, o)
		for _, spec := range []Spec{{40, 40, Scale, false}, {17, 23, Crop, false}, {250, 50, Crop, false}} {
			t.Run(fmt.Sprintf("%d/%s_%dx%d", o, spec.Method, spec.Width, spec.Height), func(t *testing.T) {
				t.Parallel()
				want := still(newPyramid(up), topLeft, spec)
				got := still(newPyramid(stored), orientation(o), spec)
				if got.Bounds() != want.Bounds() {
					t.Fatalf("bounds %v, want %v", got.Bounds(), want.Bounds())
				}
				var sum int
				for i := range got.Pix {
					d := int(got.Pix[i]) - int(want.Pix[i])
					sum += max(d, -d)
				}
				// The pyramid pairs pixels into 2x2 blocks from the stored image's corner, so a
				// turned source is paired differently and the results differ slightly.
				if mean := float64(sum) / float64(len(got.Pix)); mean > 2 {
					t.Errorf("differs by %.2f levels per channel on average", mean)
				}
			})
		}
	}
}

func TestProbeReportsUprightSize(t *testing.T) {
	t.Parallel()
	up := quadrants()
	for o := 1; o <= 8; o++ {
		jpg := encodeImageJPEG(t, storedAs(up, o))
		for _, bo := range byteOrders {
			t.Run(fmt.Sprintf("%d/%s", o, bo.name), func(t *testing.T) {
				t.Parallel()
				format, w, h, err := Probe(bytes.NewReader(spliceAfterSOI(jpg, exifAPP1(bo.bo, uint16(o)))), Limits{})
				if err != nil || format != "jpeg" || w != 64 || h != 32 {
					t.Errorf("Probe = %s %dx%d, %v; want jpeg 64x32", format, w, h, err)
				}
			})
		}
	}
}

// TestProbeLimitsUprightSize checks that the per-side limits apply to the
// upright picture, which is what gets decoded and turned.
func TestProbeLimitsUprightSize(t *testing.T) {
	t.Parallel()
	data := spliceAfterSOI(encodeImageJPEG(t, storedAs(quadrants(), 6)), exifAPP1(binary.BigEndian, 6)) // stored 32x64
	if _, _, _, err := Probe(bytes.NewReader(data), Limits{MaxWidth: 63}); !errors.Is(err, ErrTooLarge) {
		t.Errorf("Probe with MaxWidth 63 = %v, want ErrTooLarge", err)
	}
	if _, _, _, err := Probe(bytes.NewReader(data), Limits{MaxHeight: 32}); err != nil {
		t.Errorf("Probe with MaxHeight 32 = %v, want nil", err)
	}
}

// TestProbeFindsEXIFBehindBigSegment puts a 60 KiB APP2 (an ICC profile,
// say) before the EXIF segment, so that image.DecodeConfig's reads, not one
// buffer, must deliver it.
func TestProbeFindsEXIFBehindBigSegment(t *testing.T) {
	t.Parallel()
	jpg := encodeImageJPEG(t, storedAs(quadrants(), 8))
	data := spliceAfterSOI(jpg, app(0xe2, make([]byte, 60<<10)), exifAPP1(binary.LittleEndian, 8))
	if _, w, h, err := Probe(bytes.NewReader(data), Limits{}); err != nil || w != 64 || h != 32 {
		t.Errorf("Probe = %dx%d, %v; want 64x32", w, h, err)
	}
}

func TestGenerateIgnoresGarbageEXIF(t *testing.T) {
	t.Parallel()
	jpg := encodeImageJPEG(t, quadrants())
	for _, seg := range [][]byte{
		app(0xe1, []byte("Exif\x00\x00MM\x00\x2a\xff\xff\xff\xff")),
		app(0xe1, bytes.Repeat([]byte{0xa5}, 300)),
		app(0xe1, nil),
	} {
		data := spliceAfterSOI(jpg, seg)
		out, _, err := Generate(data, "image/jpeg", Spec{32, 32, Scale, false}, Limits{})
		if err != nil {
			t.Fatalf("Generate: %v", err)
		}
		img, err := jpeg.Decode(bytes.NewReader(out))
		if err != nil {
			t.Fatal(err)
		}
		if got := img.Bounds().Size(); got != image.Pt(32, 16) {
			t.Errorf("thumbnail is %v, want 32x16", got)
		}
		checkColour(t, img, 7, 4, red)
	}
}

// orientationCases are the parser's fixtures, and the fuzz seeds.
func orientationCases() []struct {
	name string
	data []byte
	want orientation
} {
	soi := []byte{0xff, 0xd8}
	jfif := app(0xe0, []byte("JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"))
	sof := []byte{0xff, 0xc0, 0, 11, 8, 0, 1, 0, 1, 1, 1, 0x11, 0}
	with := func(segs ...[]byte) []byte {
		return append(spliceAfterSOI(soi, segs...), sof...)
	}
	seg6 := exifAPP1(binary.BigEndian, 6)
	withTIFF := func(tiff []byte) []byte {
		return with(app(0xe1, append([]byte("Exif\x00\x00"), tiff...)))
	}
	type tc = struct {
		name string
		data []byte
		want orientation
	}
	cases := []tc{
		{"no exif", with(jfif), topLeft},
		{"empty", nil, topLeft},
		{"not a jpeg", append([]byte("\x89PNG"), seg6...), topLeft},
		{"after jfif", with(jfif, seg6), rightTop},
		{"after fill bytes", with([]byte{0xff, 0xff}, seg6), rightTop},
		{"xmp first", with(app(0xe1, []byte("http://ns.adobe.com/xap/1.0/\x00<x/>")), seg6), topLeft},
		{"after sos", append(with(), append([]byte{0xff, 0xda, 0, 2}, seg6...)...), topLeft},
		{"beyond 64 KiB", with(app(0xe2, make([]byte, 65533)), seg6), topLeft},
		{"ifd beyond 64 KiB", with(app(0xe2, make([]byte, maxEXIFScan-len(soi)-4-len(seg6)+20)), seg6), topLeft},
		{"segment length 0", with([]byte{0xff, 0xe1, 0, 0}, seg6), topLeft},
		{"segment length past end", append(bytes.Clone(soi), seg6[:len(seg6)-4]...), rightTop},
		{"exif truncated in ifd", append(bytes.Clone(soi), seg6[:25]...), topLeft},
		{"zero", with(exifAPP1(binary.LittleEndian, 0)), topLeft},
		{"nine", with(exifAPP1(binary.LittleEndian, 9)), topLeft},
		{"bad byte order", withTIFF([]byte("IM\x2a\x00\x08\x00\x00\x00\x00\x00")), topLeft},
		{"bad magic", withTIFF([]byte("II\x2b\x00\x08\x00\x00\x00\x00\x00")), topLeft},
		{"ifd offset huge", withTIFF([]byte("MM\x00\x2a\xff\xff\xff\xf0\x00\x01")), topLeft},
		{"ifd offset inside header", withTIFF([]byte("II\x2a\x00\x02\x00\x00\x00\x01\x00")), topLeft},
		{"entry count past end", withTIFF([]byte("MM\x00\x2a\x00\x00\x00\x08\xff\xff")), topLeft},
		{"long value", withTIFF([]byte("MM\x00\x2a\x00\x00\x00\x08\x00\x01\x01\x12\x00\x04\x00\x00\x00\x01\x00\x00\x00\x03")), bottomRight},
		{"count 2", withTIFF([]byte("MM\x00\x2a\x00\x00\x00\x08\x00\x01\x01\x12\x00\x03\x00\x00\x00\x02\x00\x03\x00\x03")), topLeft},
		{"ascii type", withTIFF([]byte("MM\x00\x2a\x00\x00\x00\x08\x00\x01\x01\x12\x00\x02\x00\x00\x00\x01\x00\x03\x00\x00")), topLeft},
	}
	for o := range uint16(8) {
		for _, bo := range byteOrders {
			cases = append(cases, tc{fmt.Sprintf("%s %d", bo.name, o+1), with(exifAPP1(bo.bo, o+1)), orientation(o + 1)})
		}
	}
	return cases
}

func TestJPEGOrientation(t *testing.T) {
	t.Parallel()
	for _, tt := range orientationCases() {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := jpegOrientation(tt.data); got != tt.want {
				t.Errorf("jpegOrientation = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestHeadRecorder(t *testing.T) {
	t.Parallel()
	big := append([]byte{0xff, 0xd8}, make([]byte, 100<<10)...)
	tests := []struct {
		name  string
		data  []byte
		chunk int
		want  int // bytes kept
	}{
		{"jpeg kept up to the bound", big, 4096, maxEXIFScan},
		{"one byte at a time", big[:5000], 1, 5000},
		{"png not kept", pngHeader(1, 1), 4096, 0},
		{"png one byte at a time", pngHeader(1, 1), 1, 0},
		{"ff then not d8", []byte{0xff, 0xd9, 1, 2, 3}, 1, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := &headRecorder{r: bytes.NewReader(tt.data)}
			buf := make([]byte, tt.chunk)
			var total int
			for {
				n, err := h.Read(buf)
				total += n
				if err != nil {
					break
				}
			}
			if total != len(tt.data) {
				t.Errorf("passed through %d bytes, want %d", total, len(tt.data))
			}
			if len(h.head) != tt.want || !bytes.Equal(h.head, tt.data[:len(h.head)]) {
				t.Errorf("kept %d bytes, want the first %d", len(h.head), tt.want)
			}
		})
	}
}

func FuzzOrientation(f *testing.F) {
	for _, tt := range orientationCases() {
		f.Add(tt.data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		o := jpegOrientation(data)
		if o < topLeft || o > leftBottom {
			t.Fatalf("orientation %d out of range", o)
		}
		if o != topLeft && len(data) > maxEXIFScan {
			// Nothing past the bound may matter.
			if o2 := jpegOrientation(data[:maxEXIFScan]); o2 != o {
				t.Fatalf("orientation %d, but %d from the first 64 KiB", o, o2)
			}
		}
		// The same bytes through Probe's recorder, as bufio would read them.
		h := &headRecorder{r: bytes.NewReader(data)}
		buf := make([]byte, 7)
		for {
			if _, err := h.Read(buf); err != nil {
				break
			}
		}
		if got := jpegOrientation(h.head); got != o {
			t.Fatalf("orientation %d from the recorded head, %d from the data", got, o)
		}
	})
}
