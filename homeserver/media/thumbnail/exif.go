package thumbnail

import (
	"bytes"
	"encoding/binary"
	"image"
	"io"
)

// orientation is the EXIF Orientation tag (0x0112): how the stored pixels
// must be transformed to display the picture upright. The names say where the
// stored row 0 and column 0 appear on screen, as in the TIFF 6.0 spec.
type orientation uint8

const (
	topLeft     orientation = 1 + iota // upright as stored
	topRight                           // mirrored left to right
	bottomRight                        // rotated 180°
	bottomLeft                         // mirrored top to bottom
	leftTop                            // transposed (mirrored across the main diagonal)
	rightTop                           // needs a 90° clockwise turn; phones held upright
	rightBottom                        // transversed (mirrored across the anti-diagonal)
	leftBottom                         // needs a 90° anticlockwise turn
)

// maxEXIFScan bounds how much of a JPEG is searched for the EXIF segment.
// APP1 must come before the frame header and cameras put it first, so a
// segment further in is not worth reading for.
const maxEXIFScan = 64 << 10

// swapsSides reports whether the upright picture is the stored one turned on
// its side, so that its width is the stored height.
func (o orientation) swapsSides() bool { return o >= leftTop && o <= leftBottom }

// toStored maps pixel (u, v) of the upright w x h picture to the stored
// pixel (x, y) that shows there.
func (o orientation) toStored(u, v, w, h int) (x, y int) {
	switch o {
	case topRight:
		return w - 1 - u, v
	case bottomRight:
		return w - 1 - u, h - 1 - v
	case bottomLeft:
		return u, h - 1 - v
	case leftTop:
		return v, u
	case rightTop:
		return v, w - 1 - u
	case rightBottom:
		return h - 1 - v, w - 1 - u
	case leftBottom:
		return h - 1 - v, u
	}
	return u, v
}

// storedRect maps r, a rectangle of the upright w x h picture whose origin is
// at (0, 0), to the rectangle of stored pixels it shows (also from (0, 0)).
func (o orientation) storedRect(r image.Rectangle, w, h int) image.Rectangle {
	x0, y0 := o.toStored(r.Min.X, r.Min.Y, w, h)
	x1, y1 := o.toStored(r.Max.X-1, r.Max.Y-1, w, h)
	return image.Rect(min(x0, x1), min(y0, y1), max(x0, x1)+1, max(y0, y1)+1)
}

// orient fills dst, the upright picture, from src, the stored one. src must
// be dst's size, with the sides swapped when o.swapsSides.
func orient(dst, src *image.RGBA, o orientation) {
	w, h := dst.Bounds().Dx(), dst.Bounds().Dy()
	for v := range h {
		row := dst.Pix[v*dst.Stride : v*dst.Stride+4*w]
		for u := range w {
			x, y := o.toStored(u, v, w, h)
			i := y*src.Stride + 4*x
			copy(row[4*u:4*u+4], src.Pix[i:i+4])
		}
	}
}

// jpegOrientation returns the orientation recorded in data, the start of a
// JPEG file, or topLeft when there is none. It reads only the first APP1
// segment, and only if it starts within the first maxEXIFScan bytes; a
// truncated, malformed or non-EXIF segment (XMP also uses APP1) counts as none.
func jpegOrientation(data []byte) orientation {
	data = data[:min(len(data), maxEXIFScan)]
	if len(data) < 2 || data[0] != 0xff || data[1] != 0xd8 {
		return topLeft
	}
	for pos := 2; pos+4 <= len(data); {
		if data[pos] != 0xff {
			return topLeft
		}
		marker := data[pos+1]
		switch {
		case marker == 0xff: // fill byte before a marker
			pos++
			continue
		case marker == 0x01 || marker >= 0xd0 && marker <= 0xd8: // TEM, RSTn, SOI: no length
			pos += 2
			continue
		case marker == 0xd9 || marker == 0xda: // EOI, SOS: the headers are over
			return topLeft
		}
		n := int(binary.BigEndian.Uint16(data[pos+2:]))
		if n < 2 {
			return topLeft
		}
		if marker == 0xe1 {
			return exifOrientation(data[pos+4 : min(len(data), pos+2+n)])
		}
		pos += 2 + n
	}
	return topLeft
}

// exifOrientation reads the Orientation tag from IFD0 of an APP1 payload
// ("Exif\0\0" and a TIFF structure, either byte order).
func exifOrientation(seg []byte) orientation {
	tiff, ok := bytes.CutPrefix(seg, []byte("Exif\x00\x00"))
	if !ok || len(tiff) < 8 {
		return topLeft
	}
	var bo binary.ByteOrder
	switch string(tiff[:2]) {
	case "II":
		bo = binary.LittleEndian
	case "MM":
		bo = binary.BigEndian
	default:
		return topLeft
	}
	if bo.Uint16(tiff[2:]) != 42 {
		return topLeft
	}
	// Offsets are uint32; in int64 they cannot overflow, and seg is at
	// most 64 KiB, so any loop below runs at most 64 KiB/12 times.
	ifd := int64(bo.Uint32(tiff[4:]))
	size := int64(len(tiff))
	if ifd < 8 || ifd+2 > size {
		return topLeft
	}
	entries := int64(bo.Uint16(tiff[ifd:]))
	for i := range entries {
		e := ifd + 2 + 12*i
		if e+12 > size {
			return topLeft
		}
		if bo.Uint16(tiff[e:]) != 0x0112 {
			continue
		}
		// An entry is tag, type, count and a 4-byte value, which holds
		// the value itself when it fits. Orientation is one SHORT (type
		// 3); a few writers use a LONG (type 4).
		var val uint32
		switch typ, count := bo.Uint16(tiff[e+2:]), bo.Uint32(tiff[e+4:]); {
		case count != 1:
			return topLeft
		case typ == 3:
			val = uint32(bo.Uint16(tiff[e+8:]))
		case typ == 4:
			val = bo.Uint32(tiff[e+8:])
		default:
			return topLeft
		}
		if val < uint32(topLeft) || val > uint32(leftBottom) {
			return topLeft
		}
		return orientation(val)
	}
	return topLeft
}

// headRecorder passes reads through and keeps a copy of the first
// maxEXIFScan bytes of a JPEG, so that Probe can find the orientation in
// what image.DecodeConfig read anyway. APP1 comes before the frame header,
// which DecodeConfig must reach, so the copy holds it without any extra
// reading. Anything that does not start with SOI is not copied at all.
type headRecorder struct {
	r    io.Reader
	head []byte
	done bool
}

var jpegSOI = []byte{0xff, 0xd8}

func (h *headRecorder) Read(p []byte) (int, error) {
	n, err := h.r.Read(p)
	if h.done || n == 0 {
		return n, err
	}
	chunk := p[:min(n, maxEXIFScan-len(h.head))]
	if len(h.head) < len(jpegSOI) {
		var sig [2]byte
		k := copy(sig[:], h.head)
		k += copy(sig[k:], chunk)
		if !bytes.HasPrefix(jpegSOI, sig[:k]) {
			h.head, h.done = nil, true
			return n, err
		}
	}
	h.head = append(h.head, chunk...)
	h.done = len(h.head) == maxEXIFScan
	return n, err
}
