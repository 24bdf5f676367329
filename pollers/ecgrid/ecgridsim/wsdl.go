package ecgridsim

import (
	"net/http"
	"strings"
	"text/template"
)

// The WSDL the simulator serves at ?WSDL: document/literal, one SOAP 1.1 and one SOAP 1.2
// binding, like an ASMX service.
var wsdlTmpl = template.Must(template.New("wsdl").Parse(`<?xml version="1.0" encoding="utf-8"?>
<wsdl:definitions xmlns:wsdl="http://schemas.xmlsoap.org/wsdl/" xmlns:soap="http://schemas.xmlsoap.org/wsdl/soap/" xmlns:soap12="http://schemas.xmlsoap.org/wsdl/soap12/" xmlns:s="http://www.w3.org/2001/XMLSchema" xmlns:tns="{{.NS}}" targetNamespace="{{.NS}}">
  <wsdl:types>
    <s:schema elementFormDefault="qualified" targetNamespace="{{.NS}}">
      <s:element name="Login"><s:complexType><s:sequence>
        <s:element minOccurs="0" maxOccurs="1" name="Email" type="s:string"/>
        <s:element minOccurs="0" maxOccurs="1" name="Password" type="s:string"/>
      </s:sequence></s:complexType></s:element>
      <s:element name="LoginResponse"><s:complexType><s:sequence>
        <s:element minOccurs="0" maxOccurs="1" name="LoginResult" type="s:string"/>
      </s:sequence></s:complexType></s:element>
      <s:element name="Logout"><s:complexType><s:sequence>
        <s:element minOccurs="0" maxOccurs="1" name="SessionID" type="s:string"/>
      </s:sequence></s:complexType></s:element>
      <s:element name="LogoutResponse"><s:complexType><s:sequence>
        <s:element minOccurs="1" maxOccurs="1" name="LogoutResult" type="s:boolean"/>
      </s:sequence></s:complexType></s:element>
      <s:element name="SessionLog"><s:complexType><s:sequence>
        <s:element minOccurs="0" maxOccurs="1" name="SessionID" type="s:string"/>
        <s:element minOccurs="1" maxOccurs="1" name="UserID" type="s:int"/>
        <s:element minOccurs="1" maxOccurs="1" name="MaxRecords" type="s:short"/>
      </s:sequence></s:complexType></s:element>
      <s:element name="SessionLogResponse"><s:complexType><s:sequence>
        <s:element minOccurs="0" maxOccurs="1" name="SessionLogResult" type="tns:ArrayOfSessionIDInfo"/>
      </s:sequence></s:complexType></s:element>
      <s:element name="SessionLogEx"><s:complexType><s:sequence>
        <s:element minOccurs="0" maxOccurs="1" name="SessionID" type="s:string"/>
        <s:element minOccurs="1" maxOccurs="1" name="UserID" type="s:int"/>
        <s:element minOccurs="1" maxOccurs="1" name="StartTime" type="s:dateTime"/>
        <s:element minOccurs="1" maxOccurs="1" name="EndTime" type="s:dateTime"/>
        <s:element minOccurs="1" maxOccurs="1" name="MaxRecords" type="s:short"/>
      </s:sequence></s:complexType></s:element>
      <s:element name="SessionLogExResponse"><s:complexType><s:sequence>
        <s:element minOccurs="0" maxOccurs="1" name="SessionLogExResult" type="tns:ArrayOfSessionIDInfo"/>
      </s:sequence></s:complexType></s:element>
      <s:complexType name="ArrayOfSessionIDInfo"><s:sequence>
        <s:element minOccurs="0" maxOccurs="unbounded" name="SessionIDInfo" nillable="true" type="tns:SessionIDInfo"/>
      </s:sequence></s:complexType>
      <s:complexType name="SessionIDInfo"><s:sequence>
        <s:element minOccurs="0" maxOccurs="1" name="SessionID" type="s:string"/>
        <s:element minOccurs="1" maxOccurs="1" name="UserID" type="s:int"/>
        <s:element minOccurs="1" maxOccurs="1" name="NetworkID" type="s:int"/>
        <s:element minOccurs="1" maxOccurs="1" name="MailboxID" type="s:int"/>
        <s:element minOccurs="1" maxOccurs="1" name="Created" type="s:dateTime"/>
        <s:element minOccurs="1" maxOccurs="1" name="Expires" type="s:dateTime"/>
      </s:sequence></s:complexType>
    </s:schema>
  </wsdl:types>
{{range .Ops}}  <wsdl:message name="{{.}}SoapIn"><wsdl:part name="parameters" element="tns:{{.}}"/></wsdl:message>
  <wsdl:message name="{{.}}SoapOut"><wsdl:part name="parameters" element="tns:{{.}}Response"/></wsdl:message>
{{end}}  <wsdl:portType name="ECGridOSSoap">
{{range .Ops}}    <wsdl:operation name="{{.}}"><wsdl:input message="tns:{{.}}SoapIn"/><wsdl:output message="tns:{{.}}SoapOut"/></wsdl:operation>
{{end}}  </wsdl:portType>
  <wsdl:binding name="ECGridOSSoap" type="tns:ECGridOSSoap">
    <soap:binding transport="http://schemas.xmlsoap.org/soap/http"/>
{{range .Ops}}    <wsdl:operation name="{{.}}"><soap:operation soapAction="{{$.NS}}{{.}}" style="document"/><wsdl:input><soap:body use="literal"/></wsdl:input><wsdl:output><soap:body use="literal"/></wsdl:output></wsdl:operation>
{{end}}  </wsdl:binding>
  <wsdl:binding name="ECGridOSSoap12" type="tns:ECGridOSSoap">
    <soap12:binding transport="http://schemas.xmlsoap.org/soap/http"/>
{{range .Ops}}    <wsdl:operation name="{{.}}"><soap12:operation soapAction="{{$.NS}}{{.}}" style="document"/><wsdl:input><soap12:body use="literal"/></wsdl:input><wsdl:output><soap12:body use="literal"/></wsdl:output></wsdl:operation>
{{end}}  </wsdl:binding>
  <wsdl:service name="ECGridOS">
    <wsdl:port name="ECGridOSSoap" binding="tns:ECGridOSSoap"><soap:address location="{{.URL}}"/></wsdl:port>
    <wsdl:port name="ECGridOSSoap12" binding="tns:ECGridOSSoap12"><soap12:address location="{{.URL}}"/></wsdl:port>
  </wsdl:service>
</wsdl:definitions>
`))

func (s *Sim) wsdl(w http.ResponseWriter, r *http.Request) {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	data := struct {
		NS, URL string
		Ops     []string
	}{NS: s.cfg.Namespace, URL: scheme + "://" + r.Host + r.URL.Path, Ops: []string{"Login", "Logout", "SessionLog", "SessionLogEx"}}
	var b strings.Builder
	if err := wsdlTmpl.Execute(&b, data); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	_, _ = w.Write([]byte(b.String()))
}
