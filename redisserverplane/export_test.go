package redisserverplane

// Abandon stops p's supervisor and nothing else, as a killed devapi does:
// its processes run on, and nothing starts them again. Close still works.
func Abandon(p *Plane) {
	p.stopSupervisor()
	<-p.supervised
}
