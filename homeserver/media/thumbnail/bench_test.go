package thumbnail

import (
	"bytes"
	"fmt"
	"image"
	"image/jpeg"
	"math/rand/v2"
	"sync"
	"testing"

	"golang.org/x/image/draw"
)

// photoJPEG is a 4000x3000 (12 Mpx, phone-camera sized) JPEG. Noise on top of
// a gradient keeps the entropy, and so the decode cost, closer to a photo's.
var photoJPEG = sync.OnceValue(func() []byte {
	img := gradient(4000, 3000)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range img.Pix {
		if i%4 != 3 {
			img.Pix[i] += uint8(rng.IntN(16))
		}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 85}); err != nil {
		panic(err)
	}
	return buf.Bytes()
})

// BenchmarkGenerate measures a whole thumbnail of a 12 Mpx JPEG; MB/s is of input.
func BenchmarkGenerate(b *testing.B) {
	data := photoJPEG()
	for _, spec := range []Spec{{320, 240, Scale, false}, {96, 96, Crop, false}, {800, 600, Scale, false}} {
		b.Run(fmt.Sprintf("%s_%dx%d", spec.Method, spec.Width, spec.Height), func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := Generate(data, "image/jpeg", spec, Limits{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkGenerateStills measures the five standard sizes of a 12 Mpx JPEG made from one
// decoding, as at upload.
func BenchmarkGenerateStills(b *testing.B) {
	data := photoJPEG()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := GenerateStills(data, "image/jpeg", StandardSizes, Limits{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkScalers compares resampling alone (on the decoded 4000x3000 image
// to 320x240), which is what chose scaler.
func BenchmarkScalers(b *testing.B) {
	src, err := jpeg.Decode(bytes.NewReader(photoJPEG()))
	if err != nil {
		b.Fatal(err)
	}
	b.Run("decode_only", func(b *testing.B) {
		data := photoJPEG()
		for b.Loop() {
			if _, err := jpeg.Decode(bytes.NewReader(data)); err != nil {
				b.Fatal(err)
			}
		}
	})
	for _, s := range []struct {
		name string
		s    draw.Scaler
	}{
		{"ApproxBiLinear", draw.ApproxBiLinear},
		{"BiLinear", draw.BiLinear},
		{"CatmullRom", draw.CatmullRom},
	} {
		b.Run(s.name, func(b *testing.B) {
			b.ReportAllocs()
			dst := image.NewRGBA(image.Rect(0, 0, 320, 240))
			for b.Loop() {
				s.s.Scale(dst, dst.Bounds(), src, src.Bounds(), draw.Src, nil)
			}
		})
	}
	for _, size := range []image.Point{{320, 240}, {800, 600}} {
		b.Run(fmt.Sprintf("resample_pyramid_%dx%d", size.X, size.Y), func(b *testing.B) {
			b.ReportAllocs()
			dst := image.NewRGBA(image.Rect(0, 0, size.X, size.Y))
			for b.Loop() {
				resample(dst, newPyramid(src), src.Bounds())
			}
		})
	}
}
