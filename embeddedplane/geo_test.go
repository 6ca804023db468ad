package embeddedplane_test

import "testing"

// The Sicily examples of Redis's GEO documentation, on both planes.
// Coordinates are doubles in RESP3 (go-redis's protocol), so redis-server
// 7.0's 17 digits and Redis 7.2+'s shortest text read as the same numbers.
var geoCases = []cmdCase{
	{name: "distances and hashes", onRedis70: true, steps: []step{
		{"GEOADD Sicily 13.361389 38.115556 Palermo 15.087269 37.502669 Catania", "2"},
		{"GEODIST Sicily Palermo Catania", "166274.1516"},
		{"GEODIST Sicily Palermo Catania km", "166.2742"},
		{"GEODIST Sicily Palermo Catania MI", "103.3182"},
		{"GEODIST Sicily Palermo Catania ft", "545518.8700"},
		{"GEOADD m 15 37 a 15 38 b 0.0001 0 c 0.0002 0 d 179.9 10 e -179.9 10 f", "6"},
		{"GEODIST m a b", "111226.3808"},
		{"GEODIST m c d", "11.3366"},
		{"GEODIST m e f", "21907.4791"},
		{"GEODIST Sicily Foo Catania", "nil"},
		{"GEODIST nokey Foo Catania", "nil"},
		{"GEODIST Sicily Palermo Catania yd", "ERR: ERR unsupported unit provided. please use M, KM, FT, MI"},
		{"GEODIST Sicily Palermo Catania km x", "ERR: ERR syntax error"},
		{"GEOHASH Sicily Palermo Catania nope", "[sqc8b49rny0 sqdtr74hyu0 <nil>]"},
		{"GEOHASH nokey a", "[<nil>]"},
		{"ZSCORE Sicily Palermo", "3.479099956230698e+15"},
		{"GEOADD Sicily 13.361389 38.115556 Palermo", "0"},
		{"GEOADD Sicily 200 10 x", "ERR: ERR invalid longitude,latitude pair 200.000000,10.000000"},
		{"GEOADD Sicily 10 86 x", "ERR: ERR invalid longitude,latitude pair 10.000000,86.000000"},
		{"GEOADD Sicily 10 x y", "ERR: ERR value is not a valid float"},
		{"GEOADD Sicily 10 20", "ERR: ERR wrong number of arguments for 'geoadd' command"},
		{"GEOADD Sicily 10 20 a 30", "ERR: ERR syntax error"},
		{"SET s v", "OK"},
		{"GEOHASH s a", "ERR: WRONGTYPE Operation against a key holding the wrong kind of value"},
		{"GEODIST s a b", "ERR: WRONGTYPE Operation against a key holding the wrong kind of value"},
	}},
	{name: "geoadd nx xx ch", onRedis70: true, steps: []step{
		{"GEOADD g 13.361389 38.115556 Palermo", "1"},
		{"GEOADD g NX 15 37 Palermo 15.087269 37.502669 Catania", "1"},
		{"GEOADD g XX 15 37 Catania 13 38 Nowhere", "0"},
		{"GEOADD g XX CH 15.1 37.1 Catania 13 38 Nowhere", "1"},
		{"GEOADD g CH 15.1 37.1 Catania 13 38 Nowhere", "1"},
		{"ZCARD g", "3"},
		{"GEOADD g NX XX 15 37 a", "ERR: ERR syntax error"},
	}},
	{name: "geosearch", onRedis70: true, steps: []step{
		{"GEOADD Sicily 13.361389 38.115556 Palermo 15.087269 37.502669 Catania", "2"},
		{"GEOADD Sicily 12.758489 38.788135 edge1 17.241510 38.788135 edge2", "2"},
		{"geosearch Sicily FROMLONLAT 15 37 BYRADIUS 200 km ASC", "[Catania Palermo]"},
		{"geosearch Sicily FROMLONLAT 15 37 BYBOX 400 400 km ASC WITHDIST", "[[Catania 56.4413] [Palermo 190.4424] [edge2 279.7403] [edge1 279.7405]]"},
		{"geosearch Sicily FROMMEMBER Palermo BYRADIUS 200 km DESC WITHDIST WITHHASH", "[[Catania 166.2742 3479447370796909] [edge1 91.4007 3479273021651468] [Palermo 0.0000 3479099956230698]]"},
		{"geosearch Sicily FROMLONLAT 15 37 BYRADIUS 500 km COUNT 2 WITHDIST", "[[Catania 56.4413] [Palermo 190.4424]]"},
		{"geosearch Sicily FROMMEMBER nope BYRADIUS 200 km", "ERR: ERR could not decode requested zset member"},
		{"geosearch nokey FROMMEMBER nope BYRADIUS 200 km", "[]"},
		{"geosearch Sicily BYRADIUS 200 km ASC WITHDIST", "ERR: ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for geosearch"},
		{"geosearch Sicily FROMLONLAT 15 37 ASC WITHDIST", "ERR: ERR exactly one of BYRADIUS and BYBOX can be specified for geosearch"},
		{"geosearch Sicily FROMLONLAT 15 37 BYRADIUS 200 km ANY", "ERR: ERR the ANY argument requires COUNT argument"},
		{"geosearch Sicily FROMLONLAT 15 37 BYRADIUS 200 km COUNT 0", "ERR: ERR COUNT must be > 0"},
		{"geosearch Sicily FROMLONLAT 15 37 BYRADIUS -1 km", "ERR: ERR radius cannot be negative"},
		{"geosearch Sicily FROMLONLAT 15 37 BYBOX 1 -1 km", "ERR: ERR height or width cannot be negative"},
		{"geosearch Sicily FROMLONLAT 15 37 BYRADIUS 1 parsec", "ERR: ERR unsupported unit provided. please use M, KM, FT, MI"},
		{"geosearch Sicily FROMLONLAT 15 37 BYRADIUS 1 km STOREDIST", "ERR: ERR syntax error"},
		{"geosearchstore dst Sicily FROMLONLAT 15 37 BYRADIUS 200 km ASC", "2"},
		{"ZSCORE dst Palermo", "3.479099956230698e+15"},
		{"ZCARD dst", "2"},
		{"geosearchstore dst Sicily FROMLONLAT 15 37 BYRADIUS 200 km ASC COUNT 1 STOREDIST", "1"},
		{"ZSCORE dst Catania", "56.4412578701582"},
		{"ZCARD dst", "1"},
		{"geosearchstore dst Sicily FROMLONLAT 15 37 BYRADIUS 200 km WITHDIST", "ERR: ERR GEOSEARCHSTORE is not compatible with WITHDIST, WITHHASH and WITHCOORD options"},
		{"geosearchstore dst Sicily FROMLONLAT 15 37 BYRADIUS 1 m", "0"},
		{"EXISTS dst", "0"},
	}},
	{name: "coordinates", onRedis70: true, steps: []step{
		{"GEOADD Sicily 13.361389 38.115556 Palermo 15.087269 37.502669 Catania", "2"},
		{"GEOPOS Sicily Palermo nope Catania", "[[13.361389338970184 38.1155563954963] <nil> [15.087267458438873 37.50266842333162]]"},
		{"geosearch Sicily FROMLONLAT 15 37 BYRADIUS 100 km WITHCOORD", "[[Catania [15.087267458438873 37.50266842333162]]]"},
		{"GEOPOS nokey a", "[<nil>]"},
	}},
}

func TestGeoCommands(t *testing.T) {
	runCases(t, geoCases)
}
