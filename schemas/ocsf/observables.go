package ocsf

// Subjects is implemented by an event type that wraps a generated class (a mapping's
// pooled event with the objects it points to): AddObservables reads the actor, the user
// and the source endpoint through it.
type Subjects interface {
	Subjects() (actor *Actor, user *User, src *NetworkEndpoint)
}

// AddObservables appends (normalizer.observables) an OCSF observable for each IP address
// (type_id 2), user name (4) and e-mail address (5) the mapper put in its typed home, named
// by the attribute path ("src_endpoint.ip", "actor.user.name", "user.email_addr"). It reads
// only what the event already holds: no value is added that is not mapped elsewhere. It
// appends to the event's list (pooled events start with a nil one; a shared slice is never
// assigned). Observable type_ids other than 0 and 99 are those of the compiled OCSF schema;
// the official checker, which reads the raw definitions, does not accept them yet.
func AddObservables(ev Event) {
	var actor *Actor
	var user *User
	var srcEP *NetworkEndpoint
	switch e := ev.(type) {
	case Subjects:
		actor, user, srcEP = e.Subjects()
	case *APIActivity:
		actor, srcEP = &e.Actor, &e.SrcEndpoint
	case *Authentication:
		actor, user, srcEP = e.Actor, &e.User, e.SrcEndpoint
	case *WebResourcesActivity:
		actor, srcEP = e.Actor, e.SrcEndpoint
	}
	b := ev.EventBase()
	if actor != nil {
		observeUser(b, "actor.user", actor.User)
	}
	observeUser(b, "user", user)
	if srcEP != nil {
		observe(b, ObservableTypeIPAddress, "src_endpoint.ip", srcEP.IP)
	}
	if b.DstEndpoint != nil {
		observe(b, ObservableTypeIPAddress, "dst_endpoint.ip", b.DstEndpoint.IP)
	}
}

// observeUser adds a user's name and e-mail address under path.
func observeUser(b *Base, path string, u *User) {
	if u == nil {
		return
	}
	observe(b, ObservableTypeUserName, path+".name", u.Name)
	observe(b, ObservableTypeEmailAddress, path+".email_addr", u.EmailAddr)
}

// observe appends one observable when the value is set.
func observe(b *Base, typ ObservableTypeID, name, value string) {
	if value != "" {
		b.Observables = append(b.Observables, Observable{TypeID: typ, Name: name, Value: value})
	}
}
