-- tscf_tunnel.lua: Wireshark dissector for the TSCF tunnel of 3GPP TR 33.830
-- clause 8.4 / Annex A, as libtse's tse-cli and tscf-server speak it.
--
-- What it dissects: the plaintext stream inside the TLS connection between
-- a TSE and a TSCF, i.e. back-to-back units that are either
--   * a Control Message (first nibble 1): the 16-byte CM header (A.1.3:
--     CM_Version, CM_Indication, Reserved, CM_Type, TLV_Count, Tunnel
--     Session ID, Sequence) and TLV_Count TLVs (type, length, value; types
--     and names of table A.1.5-1, Response_Code names of table A.1.5-2), or
--   * an inner IP packet (first nibble 4 or 6), handed to Wireshark's ip /
--     ipv6 dissector.
-- Units may span TLS records (TLS reassembly) and records may hold several.
--
-- Use:
--   wireshark -X lua_script:tools/wireshark/tscf.lua  (or copy the file to
--   ~/.local/lib/wireshark/plugins/), with the TLS secrets
--   (-o tls.keylog_file:FILE, e.g. tse-cli's SSLKEYLOGFILE).  The stream is
--   recognised by its first Configuration_Request (a heuristic on TLS
--   application data: CM_Version 1, CM_Type 1, TSID all ones); for a capture
--   that starts later, "Decode As" TLS port -> TSCF, or set the preference
--   tscf_tunnel.tls_port (-o tscf_tunnel.tls_port:PORT).  A TSCF on another port than
--   443 also needs TCP -> TLS: -d tcp.port==PORT,tls.
--   The pcap-ng files of tse-cli --pcap / tscf-server --pcap carry one CM
--   per frame on a LINKTYPE_USER0 interface: registered here too.
--
-- Fields (filter prefix tscf_tunnel: "tscf" is taken by IEEE 1722's
-- Time-Synchronous Control Format): tscf_tunnel.cm.version,
-- .cm.indication, .cm.reserved, .cm.type, .cm.tlv_count, .cm.tsid,
-- .cm.tsid_unassigned (generated: the TSID is all ones, A.1.4),
-- .cm.sequence, .tlv.type, .tlv.length, .tlv.value, .response_code,
-- .ipv4_address, .ipv4_netmask, .keepalive_interval, .padding,
-- .ipv6_address, .ipv6_netmask, .unit.kind, .unit.length.

local tscf = Proto("tscf_tunnel", "TSCF tunnel (3GPP TR 33.830 Annex A)")

local cm_types = {
    [1] = "Configuration_Request",
    [2] = "Configuration_Response",
    [5] = "Configuration_Release_Request",
    [6] = "Configuration_Release_Response",
    [7] = "Keep_Alive",
    [8] = "Keep_Alive_Response",
}
-- table A.1.5-1
local tlv_types = {
    [0] = "Reserved", [1] = "Reserved", [2] = "Reserved",
    [3] = "Response_Code",
    [4] = "Internal_IPv4_Address",
    [5] = "Internal_IPv4_Netmask",
    [6] = "Keep_Alive_Interval",
    [8] = "Padding",
    [18] = "Internal_IPv6_Address",
    [19] = "Internal_IPv6_Netmask",
}
-- table A.1.5-2
local response_codes = {
    [0] = "Success",
    [1] = "Invalid tunnel session ID",
    [2] = "Source IP address is blacklisted",
    [3] = "Out of tunnel resources",
    [4] = "Service Unavailable",
    [5] = "Version_Not_Supported",
}
local unit_kinds = { [1] = "Control Message", [4] = "IPv4 packet", [6] = "IPv6 packet" }

local f = {
    version = ProtoField.uint8("tscf_tunnel.cm.version", "CM_Version", base.DEC, nil, 0xF0),
    indication = ProtoField.uint8("tscf_tunnel.cm.indication", "CM_Indication", base.DEC, nil, 0x0C),
    reserved = ProtoField.uint8("tscf_tunnel.cm.reserved", "Reserved", base.DEC, nil, 0x03),
    type = ProtoField.uint8("tscf_tunnel.cm.type", "CM_Type", base.DEC, cm_types),
    tlv_count = ProtoField.uint16("tscf_tunnel.cm.tlv_count", "TLV_Count", base.DEC),
    tsid = ProtoField.uint64("tscf_tunnel.cm.tsid", "Tunnel Session ID", base.HEX),
    tsid_unassigned = ProtoField.bool("tscf_tunnel.cm.tsid_unassigned",
        "TSID unassigned (all ones: first Configuration_Request, A.1.4)"),
    sequence = ProtoField.uint32("tscf_tunnel.cm.sequence", "Sequence", base.DEC),
    tlv = ProtoField.none("tscf_tunnel.tlv", "TLV"),
    tlv_type = ProtoField.uint8("tscf_tunnel.tlv.type", "TLV type", base.DEC, tlv_types),
    tlv_length = ProtoField.uint8("tscf_tunnel.tlv.length", "TLV length", base.DEC),
    tlv_value = ProtoField.bytes("tscf_tunnel.tlv.value", "TLV value"),
    response_code = ProtoField.uint16("tscf_tunnel.response_code", "Response_Code", base.DEC, response_codes),
    ipv4_address = ProtoField.ipv4("tscf_tunnel.ipv4_address", "Internal_IPv4_Address"),
    ipv4_netmask = ProtoField.ipv4("tscf_tunnel.ipv4_netmask", "Internal_IPv4_Netmask"),
    keepalive_interval = ProtoField.uint16("tscf_tunnel.keepalive_interval", "Keep_Alive_Interval (s)", base.DEC),
    padding = ProtoField.bytes("tscf_tunnel.padding", "Padding"),
    ipv6_address = ProtoField.ipv6("tscf_tunnel.ipv6_address", "Internal_IPv6_Address"),
    ipv6_netmask = ProtoField.ipv6("tscf_tunnel.ipv6_netmask", "Internal_IPv6_Netmask"),
    unit_kind = ProtoField.uint8("tscf_tunnel.unit.kind", "Unit", base.DEC, unit_kinds),
    unit_length = ProtoField.uint32("tscf_tunnel.unit.length", "Unit length", base.DEC),
}
tscf.fields = { f.version, f.indication, f.reserved, f.type, f.tlv_count, f.tsid,
    f.tsid_unassigned, f.sequence, f.tlv, f.tlv_type, f.tlv_length, f.tlv_value,
    f.response_code, f.ipv4_address, f.ipv4_netmask, f.keepalive_interval, f.padding,
    f.ipv6_address, f.ipv6_netmask, f.unit_kind, f.unit_length }

local ef_malformed = ProtoExpert.new("tscf_tunnel.malformed", "Malformed TSCF unit",
    expert.group.MALFORMED, expert.severity.ERROR)
local ef_tlv_size = ProtoExpert.new("tscf_tunnel.tlv.bad_length", "TLV of the wrong length for its type",
    expert.group.MALFORMED, expert.severity.WARN)
tscf.experts = { ef_malformed, ef_tlv_size }

tscf.prefs.tls_port = Pref.uint("TLS port", 0,
    "Decode TLS application data on this TCP port as TSCF (0: only the heuristic and Decode As)")

-- value lengths table A.1.5-1 fixes ("Any" for Reserved and Padding)
local tlv_sizes = { [3] = 2, [4] = 4, [5] = 4, [6] = 2, [18] = 16, [19] = 16 }
local tlv_fields = { [3] = f.response_code, [4] = f.ipv4_address, [5] = f.ipv4_netmask,
    [6] = f.keepalive_interval, [8] = f.padding, [18] = f.ipv6_address, [19] = f.ipv6_netmask }

local ip_dissector = Dissector.get("ip")
local ipv6_dissector = Dissector.get("ipv6")

-- Length of the unit at off: n (> 0), or nil when more bytes are needed
-- (then the second value is how many more are known to be needed, or nil),
-- or -1 when the unit cannot be delimited.
local function unit_length(tvb, off)
    local avail = tvb:len() - off
    if avail < 1 then return nil end
    local nibble = bit.rshift(tvb(off, 1):uint(), 4)
    if nibble == 1 then
        if avail < 16 then return nil, 16 - avail end
        local count = tvb(off + 2, 2):uint()
        local len = 16
        for _ = 1, count do
            if avail < len + 2 then return nil end
            len = len + 2 + tvb(off + len + 1, 1):uint()
        end
        if avail < len then return nil, len - avail end
        return len
    elseif nibble == 4 then
        if avail < 4 then return nil, 4 - avail end
        local len = tvb(off + 2, 2):uint()
        if len < 20 then return -1 end
        if avail < len then return nil, len - avail end
        return len
    elseif nibble == 6 then
        if avail < 6 then return nil, 6 - avail end
        local len = 40 + tvb(off + 4, 2):uint()
        if avail < len then return nil, len - avail end
        return len
    end
    return -1
end

-- One CM at off of length len under tree; returns its summary for Info.
local function dissect_cm(tvb, off, len, pinfo, tree)
    local r = tvb(off, len)
    local ctype = tvb(off + 1, 1):uint()
    local name = cm_types[ctype] or ("CM_Type " .. ctype)
    local t = tree:add(tscf, r, "TSCF Control Message: " .. name)
    t:add(f.unit_kind, tvb(off, 1), 1)
    t:add(f.unit_length, r, len):set_generated()
    t:add(f.version, tvb(off, 1))
    t:add(f.indication, tvb(off, 1))
    t:add(f.reserved, tvb(off, 1))
    t:add(f.type, tvb(off + 1, 1))
    t:add(f.tlv_count, tvb(off + 2, 2))
    t:add(f.tsid, tvb(off + 4, 8))
    local unassigned = tvb(off + 4, 4):uint() == 0xFFFFFFFF and tvb(off + 8, 4):uint() == 0xFFFFFFFF
    t:add(f.tsid_unassigned, tvb(off + 4, 8), unassigned):set_generated()
    t:add(f.sequence, tvb(off + 12, 4))
    local seq = tvb(off + 12, 4):uint()
    local info = { name .. " seq=" .. seq }
    if unassigned then
        info[#info + 1] = "TSID unassigned"
    else
        info[#info + 1] = "TSID=0x" .. tvb(off + 4, 8):bytes():tohex():lower()
    end
    local p = off + 16
    for _ = 1, tvb(off + 2, 2):uint() do
        local ty = tvb(p, 1):uint()
        local vl = tvb(p + 1, 1):uint()
        local tname = tlv_types[ty] or ((ty >= 23) and "Reserved" or ("TLV type " .. ty))
        local tt = t:add(f.tlv, tvb(p, 2 + vl))
        tt:set_text("TLV: " .. tname .. " (" .. ty .. "), length " .. vl)
        tt:add(f.tlv_type, tvb(p, 1))
        tt:add(f.tlv_length, tvb(p + 1, 1))
        local fld = tlv_fields[ty]
        if vl > 0 then
            local v = tvb(p + 2, vl)
            if fld ~= nil and (tlv_sizes[ty] == nil or tlv_sizes[ty] == vl) then
                tt:add(fld, v)
                if ty == 3 then
                    local rc = v:uint()
                    info[#info + 1] = (response_codes[rc] or ("Response_Code " .. rc))
                elseif ty == 4 then
                    info[#info + 1] = "addr " .. tostring(v:ipv4())
                elseif ty == 6 then
                    info[#info + 1] = "keep-alive " .. v:uint() .. " s"
                elseif ty == 18 then
                    info[#info + 1] = "addr6 " .. tostring(v:ipv6())
                end
            else
                tt:add(f.tlv_value, v)
                if fld ~= nil then tt:add_proto_expert_info(ef_tlv_size) end
            end
        elseif tlv_sizes[ty] ~= nil then
            tt:add_proto_expert_info(ef_tlv_size)
        end
        p = p + 2 + vl
    end
    return table.concat(info, " ")
end

function tscf.dissector(tvb, pinfo, tree)
    local n = tvb:len()
    local off = 0
    local summaries = {}
    local has_cm = false
    while off < n do
        local len, more = unit_length(tvb, off)
        if len == nil then
            if pinfo.can_desegment > 0 then
                -- the unit continues in the next TLS record(s)
                pinfo.desegment_offset = off
                pinfo.desegment_len = more or DESEGMENT_ONE_MORE_SEGMENT
            else
                -- one unit per frame (a --pcap file): it is cut short
                local t = tree:add(tscf, tvb(off), "TSCF: truncated unit")
                t:add_proto_expert_info(ef_malformed)
                summaries[#summaries + 1] = "truncated"
                has_cm = true
            end
            break
        end
        if len < 0 then
            local t = tree:add(tscf, tvb(off), "TSCF: cannot delimit a unit (first byte 0x" ..
                string.format("%02x", tvb(off, 1):uint()) .. ")")
            t:add_proto_expert_info(ef_malformed)
            summaries[#summaries + 1] = "malformed"
            has_cm = true
            off = n
            break
        end
        local nibble = bit.rshift(tvb(off, 1):uint(), 4)
        if nibble == 1 then
            summaries[#summaries + 1] = dissect_cm(tvb, off, len, pinfo, tree)
            has_cm = true
        else
            local t = tree:add(tscf, tvb(off, len), "TSCF inner " .. unit_kinds[nibble] ..
                " (" .. len .. " bytes)")
            t:add(f.unit_kind, tvb(off, 1), nibble)
            t:add(f.unit_length, tvb(off, len), len):set_generated()
            local d = (nibble == 4) and ip_dissector or ipv6_dissector
            d:call(tvb(off, len):tvb(), pinfo, tree)
            summaries[#summaries + 1] = unit_kinds[nibble]
        end
        off = off + len
    end
    if has_cm then
        pinfo.cols.protocol:set("TSCF")
        pinfo.cols.info:set(table.concat(summaries, ", "))
    end
    return n
end

-- A TLS stream whose first application data is a first Configuration_Request;
-- the later records of the same TCP stream are taken as they come.
local tcp_stream = Field.new("tcp.stream")
local known_streams = {}
function tscf.init()
    known_streams = {}
end

local function heuristic(tvb, pinfo, tree)
    local fs = tcp_stream()
    local stream = fs and fs.value
    if stream == nil or not known_streams[stream] then
        if tvb:len() < 16 then return false end
        if tvb(0, 1):uint() ~= 0x10 or tvb(1, 1):uint() ~= 1 then return false end
        if tvb(4, 4):uint() ~= 0xFFFFFFFF or tvb(8, 4):uint() ~= 0xFFFFFFFF then return false end
        if stream ~= nil then known_streams[stream] = true end
    end
    tscf.dissector(tvb, pinfo, tree)
    return true
end
tscf:register_heuristic("tls", heuristic)

local tls_port_table = DissectorTable.get("tls.port")
tls_port_table:add_for_decode_as(tscf)
local registered_port = 0
function tscf.prefs_changed()
    if registered_port ~= 0 then tls_port_table:remove(registered_port, tscf) end
    registered_port = tscf.prefs.tls_port
    if registered_port ~= 0 then tls_port_table:add(registered_port, tscf) end
end

-- the CM interface of tse-cli --pcap / tscf-server --pcap
local encap_ok, encap_table = pcall(DissectorTable.get, "wtap_encap")
if encap_ok and encap_table ~= nil then
    encap_table:add(wtap_encaps and wtap_encaps.USER0 or wtap.USER0, tscf)
end
