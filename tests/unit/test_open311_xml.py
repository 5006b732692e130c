"""Open311's XML (shared/contracts/open311.py ``georeport_xml``) is the spec's: fed the JSON of each sample
document of GeoReport v2 (wiki.open311.org/GeoReport_v2: discovery, services, a service definition, a POST's
answer, a token, requests, errors), it writes the sample's XML: the same elements, in the same order, with the
same text, read back by a parser of its own (xmltodict, not the standard library that wrote it)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
import xmltodict

from shared.contracts.open311 import format_of, georeport_xml

DISCOVERY_XML = """<?xml version="1.0" encoding="utf-8"?>
<discovery>
  <changeset>2011-04-05T17:48:34Z</changeset>
  <contact>You can email or call for assistance api@mycity.gov +1 (555) 555-5555</contact>
  <key_service>You can request a key here: http://api.mycity.gov/api_key/request</key_service>
  <endpoints>
    <endpoint>
      <specification>http://wiki.open311.org/GeoReport_v2</specification>
      <url>http://open311.mycity.gov/v2</url>
      <changeset>2010-11-23T09:04:21Z</changeset>
      <type>production</type>
      <formats>
        <format>text/xml</format>
        <format>application/json</format>
      </formats>
    </endpoint>
  </endpoints>
</discovery>"""
DISCOVERY_JSON = {
    "changeset": "2011-04-05T17:48:34Z",
    "contact": "You can email or call for assistance api@mycity.gov +1 (555) 555-5555",
    "key_service": "You can request a key here: http://api.mycity.gov/api_key/request",
    "endpoints": [
        {
            "specification": "http://wiki.open311.org/GeoReport_v2",
            "url": "http://open311.mycity.gov/v2",
            "changeset": "2010-11-23T09:04:21Z",
            "type": "production",
            "formats": ["text/xml", "application/json"],
        }
    ],
}

SERVICES_XML = """<?xml version="1.0" encoding="utf-8"?>
<services>
  <service>
    <service_code>001</service_code>
    <service_name>Cans left out 24x7</service_name>
    <description>Garbage or recycling cans that have been left out for more than 24 hours after collection.</description>
    <metadata>true</metadata>
    <type>realtime</type>
    <keywords>lorem, ipsum, dolor</keywords>
    <group>sanitation</group>
  </service>
  <service>
    <service_code>002</service_code>
    <service_name>Construction plate shifted</service_name>
    <description>Metal construction plate covering the street or sidewalk has been moved.</description>
    <metadata>false</metadata>
    <type>realtime</type>
    <keywords>lorem, ipsum, dolor</keywords>
    <group>street</group>
  </service>
</services>"""
SERVICES_JSON = [
    {
        "service_code": "001",
        "service_name": "Cans left out 24x7",
        "description": "Garbage or recycling cans that have been left out for more than 24 hours after collection.",
        "metadata": True,
        "type": "realtime",
        "keywords": "lorem, ipsum, dolor",
        "group": "sanitation",
    },
    {
        "service_code": "002",
        "service_name": "Construction plate shifted",
        "description": "Metal construction plate covering the street or sidewalk has been moved.",
        "metadata": False,
        "type": "realtime",
        "keywords": "lorem, ipsum, dolor",
        "group": "street",
    },
]

DEFINITION_XML = """<?xml version="1.0" encoding="utf-8"?>
<service_definition>
  <service_code>DMV66</service_code>
  <attributes>
    <attribute>
      <variable>true</variable>
      <code>WHISHETN</code>
      <datatype>singlevaluelist</datatype>
      <required>true</required>
      <datatype_description></datatype_description>
      <order>1</order>
      <description>What is the ticket/tag/DL number?</description>
      <values>
        <value><key>123</key><name>Ford</name></value>
        <value><key>124</key><name>Chrysler</name></value>
      </values>
    </attribute>
  </attributes>
</service_definition>"""
DEFINITION_JSON = {
    "service_code": "DMV66",
    "attributes": [
        {
            "variable": True,
            "code": "WHISHETN",
            "datatype": "singlevaluelist",
            "required": True,
            "datatype_description": None,
            "order": 1,
            "description": "What is the ticket/tag/DL number?",
            "values": [{"key": 123, "name": "Ford"}, {"key": 124, "name": "Chrysler"}],
        }
    ],
}

POSTED_XML = """<?xml version="1.0" encoding="utf-8"?>
<service_requests>
  <request>
    <service_request_id>293944</service_request_id>
    <service_notice>The City will inspect and require the responsible party to correct within 24 hours.</service_notice>
    <account_id/>
  </request>
</service_requests>"""
POSTED_JSON = [
    {
        "service_request_id": 293944,
        "service_notice": "The City will inspect and require the responsible party to correct within 24 hours.",
        "account_id": None,
    }
]

TOKEN_XML = """<?xml version="1.0" encoding="utf-8"?>
<service_requests>
  <request>
    <service_request_id>638344</service_request_id>
    <token>12345</token>
  </request>
</service_requests>"""
TOKEN_JSON = [{"service_request_id": 638344, "token": "12345"}]

REQUESTS_XML = """<?xml version="1.0" encoding="utf-8"?>
<service_requests>
  <request>
    <service_request_id>638344</service_request_id>
    <status>closed</status>
    <status_notes>Duplicate request.</status_notes>
    <service_name>Sidewalk and Curb Issues</service_name>
    <service_code>006</service_code>
    <description></description>
    <agency_responsible></agency_responsible>
    <service_notice></service_notice>
    <requested_datetime>2010-04-14T06:37:38-08:00</requested_datetime>
    <updated_datetime>2010-04-14T06:37:38-08:00</updated_datetime>
    <expected_datetime>2010-04-15T06:37:38-08:00</expected_datetime>
    <address>8TH AVE and JUDAH ST</address>
    <address_id>545483</address_id>
    <zipcode>94122</zipcode>
    <lat>37.762221815</lat>
    <long>-122.4651145</long>
    <media_url>http://city.gov.s3.amazonaws.com/requests/media/638344.jpg</media_url>
  </request>
</service_requests>"""
REQUESTS_JSON = [
    {
        "service_request_id": 638344,
        "status": "closed",
        "status_notes": "Duplicate request.",
        "service_name": "Sidewalk and Curb Issues",
        "service_code": "006",
        "description": "",
        "agency_responsible": "",
        "service_notice": "",
        "requested_datetime": "2010-04-14T06:37:38-08:00",
        "updated_datetime": "2010-04-14T06:37:38-08:00",
        "expected_datetime": "2010-04-15T06:37:38-08:00",
        "address": "8TH AVE and JUDAH ST",
        "address_id": 545483,
        "zipcode": 94122,
        "lat": 37.762221815,
        "long": -122.4651145,
        "media_url": "http://city.gov.s3.amazonaws.com/requests/media/638344.jpg",
    }
]

ERRORS_XML = """<?xml version="1.0" encoding="utf-8"?>
<errors>
  <error>
    <code>403</code>
    <description>Invalid api_key received -- can't proceed with create_request.</description>
  </error>
</errors>"""
ERRORS_JSON = [{"code": 403, "description": "Invalid api_key received -- can't proceed with create_request."}]

SAMPLES = {
    "discovery": ("discovery", DISCOVERY_JSON, DISCOVERY_XML),
    "services": ("services", SERVICES_JSON, SERVICES_XML),
    "service definition": ("service_definition", DEFINITION_JSON, DEFINITION_XML),
    "posted request": ("service_requests", POSTED_JSON, POSTED_XML),
    "token": ("service_requests", TOKEN_JSON, TOKEN_XML),
    "requests": ("service_requests", REQUESTS_JSON, REQUESTS_XML),
    "errors": ("errors", ERRORS_JSON, ERRORS_XML),
}


def _ordered(node):
    """xmltodict's reading with the order of elements kept visible (dict equality ignores it)."""
    if isinstance(node, dict):
        return [(key, _ordered(value)) for key, value in node.items()]
    if isinstance(node, list):
        return [_ordered(item) for item in node]
    return node


@pytest.mark.parametrize("sample", list(SAMPLES))
def test_each_sample_document_of_the_spec_is_written_as_the_spec_writes_it(sample):
    root, as_json, as_xml = SAMPLES[sample]
    ours = georeport_xml(root, as_json)
    assert ours.startswith(b"<?xml version='1.0' encoding='utf-8'?>")
    assert _ordered(xmltodict.parse(ours)) == _ordered(xmltodict.parse(as_xml))


def test_text_is_escaped_and_what_xml_cannot_carry_is_left_out():
    written = georeport_xml("errors", [{"code": 400, "description": "a <b> & 'c' \x00\x1b\ufffe d \U0001f600"}])
    [error] = ET.fromstring(written).findall("error")
    assert error.findtext("description") == "a <b> & 'c'  d \U0001f600"
    assert ET.fromstring(georeport_xml("services", [])).tag == "services"  # an empty list is an empty document


def test_the_format_is_read_from_the_paths_suffix():
    assert format_of("/open311/v2/requests.xml") == "xml"
    assert format_of("/open311/v2/requests.json") == "json"
    assert format_of("/open311/v2/requests") == "json"
    assert format_of("/open311/v2/requests.html") is None
