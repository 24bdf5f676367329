// Package ocsf holds the OCSF 1.8.0 types auditstream emits (classes 3002 Authentication,
// 6001 Web Resources Activity, 6003 API Activity) and their constants. Attribute names and
// enum values follow the official 1.8.0 definitions; the generated JSON Schema in schemas/
// checks every event against them.
package ocsf

// Version is the OCSF schema version of every event.
const Version = "1.8.0"

// Categories and classes.
const (
	CategoryIAM         = 3
	CategoryApplication = 6

	ClassAuthentication      = 3002
	ClassWebResourceActivity = 6001
	ClassAPIActivity         = 6003
)

// Severity ids.
const (
	SeverityUnknown       = 0
	SeverityInformational = 1
	SeverityLow           = 2
	SeverityMedium        = 3
)

// Status ids.
const (
	StatusUnknown = 0
	StatusSuccess = 1
	StatusFailure = 2
	StatusOther   = 99
)

// API Activity (6003) activity ids. The 1.8.0 class defines only these four.
const (
	APICreate = 1
	APIRead   = 2
	APIUpdate = 3
	APIDelete = 4
)

// Authentication (3002) activity ids.
const (
	AuthLogon  = 1
	AuthLogoff = 2
)

// Event is one canonical event. Pointer and omitempty fields are left out when unset.
type Event struct {
	ActivityID   int    `json:"activity_id"`
	ActivityName string `json:"activity_name,omitempty"`
	CategoryUID  int    `json:"category_uid"`
	CategoryName string `json:"category_name,omitempty"`
	ClassUID     int    `json:"class_uid"`
	ClassName    string `json:"class_name,omitempty"`
	TypeUID      int    `json:"type_uid"`
	TypeName     string `json:"type_name,omitempty"`
	SeverityID   int    `json:"severity_id"`
	Severity     string `json:"severity,omitempty"`
	StatusID     *int   `json:"status_id,omitempty"`
	Status       string `json:"status,omitempty"`
	StatusCode   string `json:"status_code,omitempty"`
	StatusDetail string `json:"status_detail,omitempty"`
	Message      string `json:"message,omitempty"`
	Time         int64  `json:"time"`

	Metadata Metadata `json:"metadata"`

	// API Activity
	Actor       *Actor            `json:"actor,omitempty"`
	API         *API              `json:"api,omitempty"`
	SrcEndpoint *NetworkEndpoint  `json:"src_endpoint,omitempty"`
	DstEndpoint *NetworkEndpoint  `json:"dst_endpoint,omitempty"`
	Resources   []ResourceDetails `json:"resources,omitempty"`

	// Authentication
	User    *User    `json:"user,omitempty"`
	Session *Session `json:"session,omitempty"`
	Service *Service `json:"service,omitempty"`
	IsMFA   *bool    `json:"is_mfa,omitempty"`

	// Web Resources Activity
	WebResources []WebResource `json:"web_resources,omitempty"`

	RawData  string         `json:"raw_data,omitempty"`
	Unmapped map[string]any `json:"unmapped,omitempty"`
}

// Metadata of an event.
type Metadata struct {
	Version        string  `json:"version"`
	Product        Product `json:"product"`
	UID            string  `json:"uid"`
	OriginalTime   string  `json:"original_time,omitempty"`
	TenantUID      string  `json:"tenant_uid,omitempty"`
	LoggedTime     int64   `json:"logged_time,omitempty"`
	ProcessedTime  int64   `json:"processed_time,omitempty"`
	CorrelationUID string  `json:"correlation_uid,omitempty"`
	LogName        string  `json:"log_name,omitempty"`
	LogProvider    string  `json:"log_provider,omitempty"`
	LogVersion     string  `json:"log_version,omitempty"`
	EventCode      string  `json:"event_code,omitempty"`
	// IsTruncated and UntruncatedSize say that raw_data was left out to fit the size limit.
	IsTruncated     *bool `json:"is_truncated,omitempty"`
	UntruncatedSize int   `json:"untruncated_size,omitempty"`
}

// Product that logged the event.
type Product struct {
	Name       string `json:"name,omitempty"`
	VendorName string `json:"vendor_name,omitempty"`
	UID        string `json:"uid,omitempty"`
}

// Actor of an activity.
type Actor struct {
	User    *User    `json:"user,omitempty"`
	Session *Session `json:"session,omitempty"`
	AppName string   `json:"app_name,omitempty"`
}

// User is an OCSF user.
type User struct {
	Name      string `json:"name,omitempty"`
	UID       string `json:"uid,omitempty"`
	EmailAddr string `json:"email_addr,omitempty"`
	TypeID    *int   `json:"type_id,omitempty"`
	Type      string `json:"type,omitempty"`
}

// Session is an OCSF session.
type Session struct {
	UID            string `json:"uid,omitempty"`
	CreatedTime    int64  `json:"created_time,omitempty"`
	ExpirationTime int64  `json:"expiration_time,omitempty"`
	Issuer         string `json:"issuer,omitempty"`
}

// API details of an API Activity.
type API struct {
	Operation string   `json:"operation"`
	Service   *Service `json:"service,omitempty"`
	Request   *Request `json:"request,omitempty"`
	Version   string   `json:"version,omitempty"`
}

// Service is an OCSF service.
type Service struct {
	Name string `json:"name,omitempty"`
	UID  string `json:"uid,omitempty"`
}

// Request of an API call.
type Request struct {
	UID string `json:"uid"`
}

// NetworkEndpoint is an OCSF network endpoint.
type NetworkEndpoint struct {
	IP       string `json:"ip,omitempty"`
	Name     string `json:"name,omitempty"`
	Hostname string `json:"hostname,omitempty"`
	UID      string `json:"uid,omitempty"`
	SvcName  string `json:"svc_name,omitempty"`
}

// ResourceDetails is an OCSF resource.
type ResourceDetails struct {
	UID  string `json:"uid,omitempty"`
	Name string `json:"name,omitempty"`
	Type string `json:"type,omitempty"`
}

// WebResource is an OCSF web resource.
type WebResource struct {
	UID  string `json:"uid,omitempty"`
	Name string `json:"name,omitempty"`
	Type string `json:"type,omitempty"`
}

// Int returns a pointer to v (for optional enum fields).
func Int(v int) *int { return &v }

// Bool returns a pointer to v.
func Bool(v bool) *bool { return &v }

// SeverityName is the caption of a severity id.
func SeverityName(id int) string {
	switch id {
	case SeverityInformational:
		return "Informational"
	case SeverityLow:
		return "Low"
	case SeverityMedium:
		return "Medium"
	}
	return "Unknown"
}

// StatusName is the caption of a status id.
func StatusName(id int) string {
	switch id {
	case StatusSuccess:
		return "Success"
	case StatusFailure:
		return "Failure"
	case StatusOther:
		return "Other"
	}
	return "Unknown"
}
