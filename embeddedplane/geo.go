package embeddedplane

// GEO commands as Redis computes them (geo.c, geohash.c,
// geohash_helper.c): GEOADD with NX, XX and CH, GEOHASH, GEODIST, GEOPOS,
// GEOSEARCH and GEOSEARCHSTORE (with STOREDIST).
//
// miniredis has GEOADD without options, no GEOHASH or GEOSEARCHSTORE, and
// computes distances with a haversine of its own (math.Pow(sin, 2) and no
// short cut for equal longitudes), which differs from Redis's in the last
// digits; it writes coordinates with 6 decimals. Here a position is Redis's
// 52-bit geohash (the sorted-set score), decoded to the centre of its cell
// as Redis does, and a distance is geohashGetDistance with Redis's earth
// radius. Coordinates are written as Redis 7.2+ writes doubles (fpconv_dtoa:
// the shortest text that reads back the same; Redis 7.0 wrote 17 digits),
// as RESP3 doubles to a RESP3 client.
//
// GEOSEARCH scans the whole sorted set instead of Redis's nine geohash
// cells: the same members match (each is checked against the exact shape,
// as Redis checks them), but without ASC or DESC the order is the sorted
// set's, where Redis's follows its cells, and COUNT n ANY may pick other
// members than Redis. GEORADIUS and GEORADIUSBYMEMBER (deprecated since
// Redis 6.2) are miniredis's.

import (
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/alicebob/miniredis/v2/server"
)

// Redis's geo constants.
const (
	geoStepMax        = 26 // 52 bits
	geoLatMin         = -85.05112878
	geoLatMax         = 85.05112878
	geoLongMin        = -180.0
	geoLongMax        = 180.0
	earthRadiusMeters = 6372797.560856
	geoAlphabet       = "0123456789bcdefghjkmnpqrstuvwxyz"
)

// geoCommands is the family's commands for one database.
func geoCommands(in *inside) map[string]server.Cmd {
	g := &geo{in: in}
	return map[string]server.Cmd{
		"GEOADD":         g.add,
		"GEOHASH":        g.hash,
		"GEODIST":        g.dist,
		"GEOPOS":         g.pos,
		"GEOSEARCH":      g.search(false),
		"GEOSEARCHSTORE": g.search(true),
	}
}

type geo struct {
	in *inside
}

/* geohash, as Redis's geohash.c */

// interleave64 spreads the bits of x into the even positions and those of
// y into the odd ones.
func interleave64(x, y uint32) uint64 {
	spread := func(v uint32) uint64 {
		u := uint64(v)
		u = (u | u<<16) & 0x0000FFFF0000FFFF
		u = (u | u<<8) & 0x00FF00FF00FF00FF
		u = (u | u<<4) & 0x0F0F0F0F0F0F0F0F
		u = (u | u<<2) & 0x3333333333333333
		u = (u | u<<1) & 0x5555555555555555
		return u
	}
	return spread(x) | spread(y)<<1
}

// deinterleave64 undoes interleave64: x from the even bits, y from the odd.
func deinterleave64(v uint64) (x, y uint32) {
	squash := func(u uint64) uint32 {
		u &= 0x5555555555555555
		u = (u | u>>1) & 0x3333333333333333
		u = (u | u>>2) & 0x0F0F0F0F0F0F0F0F
		u = (u | u>>4) & 0x00FF00FF00FF00FF
		u = (u | u>>8) & 0x0000FFFF0000FFFF
		u = (u | u>>16) & 0x00000000FFFFFFFF
		return uint32(u)
	}
	return squash(v), squash(v >> 1)
}

// geoEncode is geohashEncode: latitude in the even bits, longitude in the
// odd ones, step bits each.
func geoEncode(lon, lat, latMin, latMax float64, step uint) uint64 {
	latOff := (lat - latMin) / (latMax - latMin)
	lonOff := (lon - geoLongMin) / (geoLongMax - geoLongMin)
	latOff *= float64(uint64(1) << step)
	lonOff *= float64(uint64(1) << step)
	return interleave64(uint32(latOff), uint32(lonOff))
}

// geoDecode is geohashDecodeToLongLatWGS84 of a 52-bit score: the centre
// of the cell, clamped to the valid ranges.
func geoDecode(bits uint64) (lon, lat float64) {
	ilat, ilon := deinterleave64(bits)
	scale := float64(uint64(1) << geoStepMax)
	latScale, lonScale := geoLatMax-geoLatMin, geoLongMax-geoLongMin
	latMin := geoLatMin + (float64(ilat)/scale)*latScale
	latMax := geoLatMin + ((float64(ilat)+1)/scale)*latScale
	lonMin := geoLongMin + (float64(ilon)/scale)*lonScale
	lonMax := geoLongMin + ((float64(ilon)+1)/scale)*lonScale
	lon = min(max((lonMin+lonMax)/2, geoLongMin), geoLongMax)
	lat = min(max((latMin+latMax)/2, geoLatMin), geoLatMax)
	return lon, lat
}

func degRad(d float64) float64 { return d * (math.Pi / 180.0) }

// geoLatDistance is geohashGetLatDistance.
func geoLatDistance(lat1, lat2 float64) float64 {
	return earthRadiusMeters * math.Abs(degRad(lat2)-degRad(lat1))
}

// geoDistance is geohashGetDistance, in meters.
func geoDistance(lon1, lat1, lon2, lat2 float64) float64 {
	lon1r, lon2r := degRad(lon1), degRad(lon2)
	v := math.Sin((lon2r - lon1r) / 2)
	if v == 0 {
		return geoLatDistance(lat1, lat2)
	}
	lat1r, lat2r := degRad(lat1), degRad(lat2)
	u := math.Sin((lat2r - lat1r) / 2)
	a := u*u + math.Cos(lat1r)*math.Cos(lat2r)*v*v
	return 2.0 * earthRadiusMeters * math.Asin(math.Sqrt(a))
}

// fmtDistance is addReplyDoubleDistance: four decimals.
func fmtDistance(d float64) string { return strconv.FormatFloat(d, 'f', 4, 64) }

/* arguments */

// parseDouble is getDoubleFromObject: a number strtod takes whole, not NaN.
func parseDouble(s string) (float64, bool) {
	if s == "" || strings.TrimSpace(s) != s {
		return 0, false
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil && !isRangeErr(err) || math.IsNaN(f) {
		return 0, false
	}
	return f, true
}

func isRangeErr(err error) bool {
	ne, ok := err.(*strconv.NumError)
	return ok && ne.Err == strconv.ErrRange
}

// lonLat reads a longitude and a latitude (extractLongLatOrReply).
func lonLat(lon, lat string) (x, y float64, msg string) {
	x, ok1 := parseDouble(lon)
	y, ok2 := parseDouble(lat)
	if !ok1 || !ok2 {
		return 0, 0, "ERR value is not a valid float"
	}
	if x < geoLongMin || x > geoLongMax || y < geoLatMin || y > geoLatMax {
		return 0, 0, "ERR invalid longitude,latitude pair " + strconv.FormatFloat(x, 'f', 6, 64) + "," + strconv.FormatFloat(y, 'f', 6, 64)
	}
	return x, y, ""
}

// unitMeters is extractUnitOrReply: the meters in one unit.
func unitMeters(u string) (float64, string) {
	switch strings.ToLower(u) {
	case "m":
		return 1, ""
	case "km":
		return 1000, ""
	case "ft":
		return 0.3048, ""
	case "mi":
		return 1609.34, ""
	}
	return 0, "ERR unsupported unit provided. please use M, KM, FT, MI"
}

// zsetOf returns the sorted set at key, nil when there is none, or false
// after answering WRONGTYPE.
func zsetOf(x *txn, d dbMaps, key string) (map[string]float64, bool) {
	if t, ok := d.keys[key]; ok && t != "zset" {
		x.peer.WriteError(msgWrongType)
		return nil, false
	}
	return d.zsets[key], true
}

/* commands */

// add serves GEOADD key [NX|XX] [CH] lon lat member ...: it checks the
// positions and runs miniredis's ZADD with their geohashes, as Redis runs
// its own ZADD.
func (g *geo) add(c *server.Peer, _ string, args []string) {
	if len(args) < 4 {
		wrongArity(c, "geoadd")
		return
	}
	g.in.run(c, func(x *txn) {
		at, nx, xx := 1, false, false
		for ; at < len(args); at++ {
			switch strings.ToUpper(args[at]) {
			case "NX":
				nx = true
				continue
			case "XX":
				xx = true
				continue
			case "CH":
				continue
			}
			break
		}
		if (len(args)-at)%3 != 0 || (nx && xx) {
			x.peer.WriteError(msgSyntax)
			return
		}
		zadd := append([]string{"ZADD"}, args[:at]...)
		for i := at; i < len(args); i += 3 {
			lon, lat, msg := lonLat(args[i], args[i+1])
			if msg != "" {
				x.peer.WriteError(msg)
				return
			}
			score := geoEncode(lon, lat, geoLatMin, geoLatMax, geoStepMax)
			zadd = append(zadd, strconv.FormatUint(score, 10), args[i+2])
		}
		x.pass(zadd...)
	})
}

// hash serves GEOHASH key member...
func (g *geo) hash(c *server.Peer, _ string, args []string) {
	if len(args) < 1 {
		wrongArity(c, "geohash")
		return
	}
	g.in.run(c, func(x *txn) {
		z, ok := zsetOf(x, x.db(), args[0])
		if !ok {
			return
		}
		x.peer.WriteLen(len(args) - 1)
		for _, member := range args[1:] {
			score, ok := z[member]
			if !ok {
				x.peer.WriteNull()
				continue
			}
			lon, lat := geoDecode(uint64(score))
			bits := geoEncode(lon, lat, -90, 90, geoStepMax)
			var buf [11]byte
			for i := range buf {
				idx := 0
				if i < 10 {
					idx = int(bits>>(52-(i+1)*5)) & 0x1f
				}
				buf[i] = geoAlphabet[idx]
			}
			x.peer.WriteBulk(string(buf[:]))
		}
	})
}

// dist serves GEODIST key member1 member2 [unit].
func (g *geo) dist(c *server.Peer, _ string, args []string) {
	if len(args) < 3 {
		wrongArity(c, "geodist")
		return
	}
	g.in.run(c, func(x *txn) {
		toMeter := 1.0
		switch {
		case len(args) == 4:
			var msg string
			if toMeter, msg = unitMeters(args[3]); msg != "" {
				x.peer.WriteError(msg)
				return
			}
		case len(args) > 4:
			x.peer.WriteError(msgSyntax)
			return
		}
		z, ok := zsetOf(x, x.db(), args[0])
		if !ok {
			return
		}
		s1, ok1 := z[args[1]]
		s2, ok2 := z[args[2]]
		if !ok1 || !ok2 {
			x.peer.WriteNull()
			return
		}
		lon1, lat1 := geoDecode(uint64(s1))
		lon2, lat2 := geoDecode(uint64(s2))
		x.peer.WriteBulk(fmtDistance(geoDistance(lon1, lat1, lon2, lat2) / toMeter))
	})
}

// pos serves GEOPOS key member...
func (g *geo) pos(c *server.Peer, _ string, args []string) {
	if len(args) < 1 {
		wrongArity(c, "geopos")
		return
	}
	g.in.run(c, func(x *txn) {
		z, ok := zsetOf(x, x.db(), args[0])
		if !ok {
			return
		}
		x.peer.WriteLen(len(args) - 1)
		for _, member := range args[1:] {
			score, ok := z[member]
			if !ok {
				x.peer.WriteLen(-1)
				continue
			}
			lon, lat := geoDecode(uint64(score))
			x.peer.WriteLen(2)
			x.peer.WriteFloat(lon) // fpconv_dtoa, as Redis 7.2+; a double in RESP3
			x.peer.WriteFloat(lat)
		}
	})
}

// geoMatch is a member GEOSEARCH found.
type geoMatch struct {
	member   string
	score    float64
	lon, lat float64
	dist     float64 // meters
}

// search serves GEOSEARCH key ... and GEOSEARCHSTORE dest key ...
// (georadiusGeneric with GEOSEARCH and GEOSEARCHSTORE).
func (g *geo) search(store bool) server.Cmd {
	name, base := "geosearch", 1
	if store {
		name, base = "geosearchstore", 2
	}
	return func(c *server.Peer, _ string, args []string) {
		if len(args) < base+5 {
			wrongArity(c, name)
			return
		}
		g.in.run(c, func(x *txn) {
			d := x.db()
			src := args[base-1]
			z, ok := zsetOf(x, d, src)
			if !ok {
				return
			}
			var (
				withDist, withHash, withCoord, any, storeDist bool
				fromMember, fromLonLat, byRadius, byBox       bool
				sortDir                                       int // 0 none, 1 asc, -1 desc
				count                                         int64
				cx, cy, radius, width, height                 float64
				toMeter                                       = 1.0
			)
			rest := args[base:]
			for i := 0; i < len(rest); i++ {
				left := len(rest) - i - 1
				switch arg := strings.ToLower(rest[i]); {
				case arg == "withdist":
					withDist = true
				case arg == "withhash":
					withHash = true
				case arg == "withcoord":
					withCoord = true
				case arg == "any":
					any = true
				case arg == "asc":
					sortDir = 1
				case arg == "desc":
					sortDir = -1
				case arg == "count" && left >= 1:
					n, ok := parseLL(rest[i+1])
					if !ok {
						x.peer.WriteError(msgNotInteger)
						return
					}
					if n <= 0 {
						x.peer.WriteError("ERR COUNT must be > 0")
						return
					}
					count = n
					i++
				case arg == "storedist" && store:
					storeDist = true
				case arg == "frommember" && left >= 1 && !fromLonLat:
					if z != nil {
						score, ok := z[rest[i+1]]
						if !ok {
							x.peer.WriteError("ERR could not decode requested zset member")
							return
						}
						cx, cy = geoDecode(uint64(score))
					}
					fromMember = true
					i++
				case arg == "fromlonlat" && left >= 2 && !fromMember:
					var msg string
					if cx, cy, msg = lonLat(rest[i+1], rest[i+2]); msg != "" {
						x.peer.WriteError(msg)
						return
					}
					fromLonLat = true
					i += 2
				case arg == "byradius" && left >= 2 && !byBox:
					r, ok := parseDouble(rest[i+1])
					if !ok {
						x.peer.WriteError("ERR need numeric radius")
						return
					}
					if r < 0 {
						x.peer.WriteError("ERR radius cannot be negative")
						return
					}
					var msg string
					if toMeter, msg = unitMeters(rest[i+2]); msg != "" {
						x.peer.WriteError(msg)
						return
					}
					radius, byRadius = r, true
					i += 2
				case arg == "bybox" && left >= 3 && !byRadius:
					w, ok := parseDouble(rest[i+1])
					if !ok {
						x.peer.WriteError("ERR need numeric width")
						return
					}
					h, ok := parseDouble(rest[i+2])
					if !ok {
						x.peer.WriteError("ERR need numeric height")
						return
					}
					if w < 0 || h < 0 {
						x.peer.WriteError("ERR height or width cannot be negative")
						return
					}
					var msg string
					if toMeter, msg = unitMeters(rest[i+3]); msg != "" {
						x.peer.WriteError(msg)
						return
					}
					width, height, byBox = w, h, true
					i += 3
				default:
					x.peer.WriteError(msgSyntax)
					return
				}
			}
			switch {
			case store && (withDist || withHash || withCoord):
				x.peer.WriteError("ERR GEOSEARCHSTORE is not compatible with WITHDIST, WITHHASH and WITHCOORD options")
				return
			case !fromMember && !fromLonLat:
				x.peer.WriteError("ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for " + strings.ToLower(name))
				return
			case !byRadius && !byBox:
				x.peer.WriteError("ERR exactly one of BYRADIUS and BYBOX can be specified for " + strings.ToLower(name))
				return
			case any && count == 0:
				x.peer.WriteError("ERR the ANY argument requires COUNT argument")
				return
			}
			if z == nil {
				if store {
					_, _ = x.call("DEL", args[0])
					x.peer.WriteInt(0)
				} else {
					x.peer.WriteLen(0)
				}
				return
			}
			if count != 0 && sortDir == 0 && !any {
				sortDir = 1
			}
			var found []geoMatch
			for member, score := range z {
				lon, lat := geoDecode(uint64(score))
				var dist float64
				if byRadius {
					dist = geoDistance(cx, cy, lon, lat)
					if dist > radius*toMeter {
						continue
					}
				} else {
					if geoLatDistance(lat, cy) > height*toMeter/2 || geoDistance(lon, lat, cx, lat) > width*toMeter/2 {
						continue
					}
					dist = geoDistance(cx, cy, lon, lat)
				}
				found = append(found, geoMatch{member: member, score: score, lon: lon, lat: lat, dist: dist})
			}
			// The sorted set's order first (score, then member), as
			// Redis walks each cell.
			slices.SortFunc(found, func(a, b geoMatch) int {
				if a.score != b.score {
					if a.score < b.score {
						return -1
					}
					return 1
				}
				return strings.Compare(a.member, b.member)
			})
			if sortDir != 0 {
				slices.SortStableFunc(found, func(a, b geoMatch) int {
					switch {
					case a.dist < b.dist:
						return -sortDir
					case a.dist > b.dist:
						return sortDir
					}
					return 0
				})
			}
			if count > 0 && int64(len(found)) > count {
				found = found[:count]
			}
			if store {
				_, _ = x.call("DEL", args[0])
				if len(found) > 0 {
					zadd := []string{"ZADD", args[0]}
					for _, f := range found {
						score := f.score
						if storeDist {
							score = f.dist / toMeter
						}
						zadd = append(zadd, strconv.FormatFloat(score, 'g', -1, 64), f.member)
					}
					if _, err := x.call(zadd...); err != nil {
						x.peer.WriteError(err.Error())
						return
					}
				}
				x.peer.WriteInt(len(found))
				return
			}
			extra := 0
			for _, on := range []bool{withDist, withHash, withCoord} {
				if on {
					extra++
				}
			}
			x.peer.WriteLen(len(found))
			for _, f := range found {
				if extra > 0 {
					x.peer.WriteLen(extra + 1)
				}
				x.peer.WriteBulk(f.member)
				if withDist {
					x.peer.WriteBulk(fmtDistance(f.dist / toMeter))
				}
				if withHash {
					x.peer.WriteInt(int(f.score))
				}
				if withCoord {
					x.peer.WriteLen(2)
					x.peer.WriteFloat(f.lon)
					x.peer.WriteFloat(f.lat)
				}
			}
		})
	}
}
