package thumbnail

import (
	"image"
	"image/color"
	"image/draw"

	xdraw "golang.org/x/image/draw"
)

// scaler resamples every thumbnail. CatmullRom is a separable kernel whose support widens with
// the reduction ratio, so it averages every source pixel (no aliasing) and stays sharp. Its
// cost grows with the source's size times the ratio: from a decoded 4000x3000 JPEG straight to
// 800x600 it takes ~400 ms. So big reductions first go down an image pyramid: the source
// halved with a 2x2 box filter, as many times as keeps the remaining ratio at least
// minFinalRatio. A box filter averages every pixel too, so it cannot alias either, and the
// CatmullRom pass over what is left gives the same picture as CatmullRom alone (within about a
// level in 255, TestPyramidMatchesCatmullRom) at a fraction of the cost (BenchmarkScalers).
var scaler xdraw.Interpolator = xdraw.CatmullRom

// minFinalRatio is the least reduction left for the CatmullRom pass after halving.
const minFinalRatio = 2

// pyramid is an image and its successive halvings, made when first needed, so that several
// thumbnails of one image (GenerateStills) share them.
type pyramid struct {
	base   image.Image
	levels []*image.RGBA // levels[k-1]: base halved k times, with its origin at (0, 0)
}

func newPyramid(base image.Image) *pyramid { return &pyramid{base: base} }

// level returns the base halved k times (k >= 1).
func (p *pyramid) level(k int) *image.RGBA {
	if len(p.levels) == 0 {
		p.levels = append(p.levels, halveImage(p.base))
	}
	for len(p.levels) < k {
		p.levels = append(p.levels, halve(p.levels[len(p.levels)-1]))
	}
	return p.levels[k-1]
}

// halveImage halves any image. A JPEG's YCbCr is halved directly, so that a photo is never
// converted to RGBA at full size.
func halveImage(img image.Image) *image.RGBA {
	switch img := img.(type) {
	case *image.YCbCr:
		return halveYCbCr(img)
	case *image.RGBA:
		if img.Bounds().Min == (image.Point{}) {
			return halve(img)
		}
	}
	return halve(toRGBA(img))
}

// resample draws the sr part of p's base onto all of dst.
func resample(dst *image.RGBA, p *pyramid, sr image.Rectangle) {
	if sr.Size() == dst.Bounds().Size() {
		xdraw.Copy(dst, image.Point{}, p.base, sr, xdraw.Src, nil)
		return
	}
	ratio := min(sr.Dx()/max(dst.Bounds().Dx(), 1), sr.Dy()/max(dst.Bounds().Dy(), 1))
	k := 0
	for ratio>>(k+1) >= minFinalRatio {
		k++
	}
	if k == 0 {
		scaler.Scale(dst, dst.Bounds(), p.base, sr, xdraw.Src, nil)
		return
	}
	// The level's pixel (x, y) covers base pixels from (x, y)<<k; sr shrinks to the level
	// pixels it covers, losing less than one of them at each edge.
	lr := sr.Sub(p.base.Bounds().Min)
	lr = image.Rect(lr.Min.X>>k, lr.Min.Y>>k, lr.Max.X>>k, lr.Max.Y>>k)
	scaler.Scale(dst, dst.Bounds(), p.level(k), lr, xdraw.Src, nil)
}

// toRGBA copies img into an RGBA image with its origin at (0, 0). image/draw has fast paths for
// the decoders' usual types (YCbCr, Gray, NRGBA, RGBA).
func toRGBA(img image.Image) *image.RGBA {
	b := img.Bounds()
	dst := image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	draw.Draw(dst, dst.Bounds(), img, b.Min, draw.Src)
	return dst
}

// halveYCbCr is halve for a YCbCr image: each pixel has the average luma of its 2x2 block and
// the average of the block's chroma samples (for 4:2:0, the one sample they share).
func halveYCbCr(src *image.YCbCr) *image.RGBA {
	b := src.Bounds()
	w, h := b.Dx()/2, b.Dy()/2
	dst := image.NewRGBA(image.Rect(0, 0, max(w, 1), max(h, 1)))
	fast420 := src.SubsampleRatio == image.YCbCrSubsampleRatio420 && b.Min.X%2 == 0 && b.Min.Y%2 == 0
	for y := range h {
		sy := b.Min.Y + 2*y
		y0 := src.YOffset(b.Min.X, sy)
		y1 := y0 + src.YStride
		c0 := src.COffset(b.Min.X, sy)
		out := dst.Pix[y*dst.Stride:]
		for x := range w {
			ys := uint32(src.Y[y0+2*x]) + uint32(src.Y[y0+2*x+1]) + uint32(src.Y[y1+2*x]) + uint32(src.Y[y1+2*x+1])
			var cb, cr uint8
			if fast420 {
				cb, cr = src.Cb[c0+x], src.Cr[c0+x]
			} else {
				cb, cr = blockChroma(src, b.Min.X+2*x, sy)
			}
			r, g, bl := color.YCbCrToRGB(uint8((ys+2)/4), cb, cr)
			o := 4 * x
			out[o], out[o+1], out[o+2], out[o+3] = r, g, bl, 0xff
		}
	}
	return dst
}

// blockChroma averages the chroma samples of the 2x2 block at (x, y).
func blockChroma(src *image.YCbCr, x, y int) (cb, cr uint8) {
	var cbs, crs uint32
	for _, p := range [4]image.Point{{x, y}, {x + 1, y}, {x, y + 1}, {x + 1, y + 1}} {
		i := src.COffset(p.X, p.Y)
		cbs += uint32(src.Cb[i])
		crs += uint32(src.Cr[i])
	}
	return uint8((cbs + 2) / 4), uint8((crs + 2) / 4)
}

// halve returns src at half its size, each pixel the average of a 2x2 block (rounded); an odd
// last row or column is dropped.
func halve(src *image.RGBA) *image.RGBA {
	w, h := src.Bounds().Dx()/2, src.Bounds().Dy()/2
	dst := image.NewRGBA(image.Rect(0, 0, max(w, 1), max(h, 1)))
	for y := range h {
		r0 := src.Pix[(2*y)*src.Stride:]
		r1 := src.Pix[(2*y+1)*src.Stride:]
		out := dst.Pix[y*dst.Stride:]
		for x := range w {
			i, o := 8*x, 4*x
			for c := range 4 {
				sum := uint32(r0[i+c]) + uint32(r0[i+4+c]) + uint32(r1[i+c]) + uint32(r1[i+4+c])
				out[o+c] = uint8((sum + 2) / 4)
			}
		}
	}
	return dst
}
