#include "status_view.hpp"

#include <cstdio>

#include "device_rows.hpp"
#include "text_table.hpp"

namespace fieldlink::ctl {
namespace {

using nlohmann::json;

std::string text_of(const json& doc, const char* key) {
  if (!doc.is_object() || !doc.contains(key)) return "?";
  const auto& v = doc[key];
  if (v.is_string()) return v.get<std::string>();
  if (v.is_null()) return "-";
  return v.dump();
}

std::uint64_t count(const json& doc, const char* key) {
  if (!doc.is_object() || !doc.contains(key) || !doc[key].is_number()) return 0;
  return doc[key].get<std::uint64_t>();
}

std::string bytes_text(std::uint64_t b) {
  char buf[32];
  if (b >= (1ULL << 30)) {
    std::snprintf(buf, sizeof buf, "%.1f GiB", static_cast<double>(b) / (1ULL << 30));
  } else if (b >= (1ULL << 20)) {
    std::snprintf(buf, sizeof buf, "%.1f MiB", static_cast<double>(b) / (1ULL << 20));
  } else if (b >= 1024) {
    std::snprintf(buf, sizeof buf, "%.1f KiB", static_cast<double>(b) / 1024);
  } else {
    std::snprintf(buf, sizeof buf, "%llu B", static_cast<unsigned long long>(b));
  }
  return buf;
}

std::string since_text(const std::string& when, std::chrono::system_clock::time_point now) {
  const auto t = parse_utc(when);
  if (!t) return when;
  return when + " (" + age_text(std::chrono::duration<double>(now - *t).count()) + " ago)";
}

void config_section(const json& doc, std::chrono::system_clock::time_point now, const Palette& p,
                    std::string& out) {
  if (!doc.contains("config")) return;
  const auto& c = doc["config"];
  const bool failed = c.value("last_reload_failed", false);
  out += "config     " + text_of(c, "file") + " (loaded " + text_of(c, "loaded_at") + ", " +
         std::to_string(count(c, "reloads")) + " reloads, " +
         std::to_string(count(c, "reload_failures")) + " failed)\n";
  if (!failed) return;
  const auto& f = c.contains("last_reload_failure") ? c["last_reload_failure"] : json::object();
  out += "           " + p.bad("LAST RELOAD FAILED") +
         (f.contains("at") ? " " + since_text(text_of(f, "at"), now) : "") + ": " +
         (f.contains("error") ? text_of(f, "error") : "see the log") +
         "; still running the configuration loaded before\n";
  if (f.contains("errors") && f["errors"].is_array()) {
    for (const auto& e : f["errors"])
      out += "             " + (e.is_string() ? e.get<std::string>() : e.dump()) + "\n";
  }
}

void adapters_section(const json& doc, const Palette& p, std::string& out) {
  const auto& adapters = doc.contains("adapters") ? doc["adapters"] : json::array();
  out += "\nadapters   " + std::to_string(adapters.size()) + "\n";
  if (adapters.empty()) return;
  TextTable t({"NAME", "TYPE", "LINK", "READINGS", "DETAIL"}, "  ");
  for (const auto& a : adapters) {
    std::string link = "?";
    std::string detail;
    if (a.contains("connected")) {
      link = a.value("connected", false) ? "up" : "down";
      detail = "broker " + text_of(a, "broker");
    } else if (a.contains("link") && a["link"].is_object()) {
      link = a["link"].value("up", false) ? "up" : "down";
      detail = a.contains("endpoint") ? text_of(a, "endpoint") : text_of(a, "port");
      const auto msg = a["link"].value("message", std::string());
      if (!msg.empty()) detail += ": " + msg;
    }
    const auto shown = link == "up" ? p.good(link) : link == "down" ? p.bad(link) : link;
    t.add({text_of(a, "name"), text_of(a, "type"), link, std::to_string(count(a, "readings")),
           detail},
          {text_of(a, "name"), text_of(a, "type"), shown, std::to_string(count(a, "readings")),
           detail});
  }
  out += t.text();
}

void sessions_section(const json& doc, std::chrono::system_clock::time_point now, const Palette& p,
                      std::string& out) {
  const auto& sessions = doc.contains("sessions") ? doc["sessions"] : json::array();
  out += "\nsessions   " + std::to_string(sessions.size()) + "\n";
  if (sessions.empty()) return;
  TextTable t(
      {"IDENTITY", "STATE", "SINCE", "IN-FLIGHT", "SENT", "ACKED", "RECONNECTS", "LAST ERROR"},
      "  ");
  for (const auto& s : sessions) {
    const auto state = text_of(s, "state");
    const auto shown = state == "online"                          ? p.good(state)
                       : state == "backoff" || state == "offline" ? p.bad(state)
                                                                  : p.warn(state);
    auto since = text_of(s, "since");
    if (const auto t0 = parse_utc(since)) {
      since = age_text(std::chrono::duration<double>(now - *t0).count()) + " ago";
    }
    auto error = s.value("last_error", std::string());
    if (s.value("credential_problem", false)) error = "credential: " + error;
    std::vector<std::string> row{text_of(s, "identity"),
                                 state,
                                 since,
                                 std::to_string(count(s, "in_flight")),
                                 std::to_string(count(s, "sent")),
                                 std::to_string(count(s, "acked")),
                                 std::to_string(count(s, "reconnects")),
                                 error.empty() ? "-" : error};
    auto shown_row = row;
    shown_row[1] = shown;
    if (!error.empty()) shown_row[7] = p.bad(error);
    t.add(std::move(row), std::move(shown_row));
  }
  out += t.text();
}

void journal_section(const json& doc, const Palette& p, std::string& out) {
  if (!doc.contains("journal") || !doc["journal"].is_object()) return;
  const auto& j = doc["journal"];
  double oldest = -1;
  if (j.contains("identities") && j["identities"].is_array()) {
    for (const auto& i : j["identities"]) {
      if (i.contains("oldest_age_seconds") && i["oldest_age_seconds"].is_number()) {
        oldest = std::max(oldest, i["oldest_age_seconds"].get<double>());
      }
    }
  }
  std::string drops;
  std::uint64_t dropped = 0;
  if (j.contains("drops") && j["drops"].is_object()) {
    for (const auto& [reason, n] : j["drops"].items()) {
      if (!n.is_number() || n.get<std::uint64_t>() == 0) continue;
      dropped += n.get<std::uint64_t>();
      drops += (drops.empty() ? "" : ", ") + reason + " " + std::to_string(n.get<std::uint64_t>());
    }
  }
  out += "\njournal    depth " + std::to_string(count(j, "depth")) + ", oldest " +
         (oldest >= 0 ? age_text(oldest) : std::string("-")) + ", drops " +
         (dropped ? p.bad(drops) : std::string("none")) + "\n";
  out += "           " + text_of(j, "path") + ": " + bytes_text(count(j, "file_bytes")) + " of " +
         bytes_text(count(j, "max_size_bytes")) + "\n";
  if (j.contains("last_error"))
    out += "           last error: " + p.bad(text_of(j, "last_error")) + "\n";
}

}  // namespace

std::string uptime_text(double seconds) {
  const auto s = static_cast<long long>(seconds < 0 ? 0 : seconds);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%lldd %02lld:%02lld:%02lld", s / 86400, s / 3600 % 24,
                s / 60 % 60, s % 60);
  return buf;
}

std::string render_status(const json& doc, const std::vector<config::IdentityBinding>* bindings,
                          std::chrono::system_clock::time_point now, const Palette& palette) {
  std::string out;
  const bool healthy = doc.value("healthy", false);
  const double uptime = doc.contains("uptime_seconds") && doc["uptime_seconds"].is_number()
                            ? doc["uptime_seconds"].get<double>()
                            : 0.0;
  out += "fieldlinkd " + text_of(doc, "version") + "  pid " + text_of(doc, "pid") + "  up " +
         uptime_text(uptime) + "  " +
         (healthy ? palette.good("healthy") : palette.bad("UNHEALTHY")) + "\n";
  if (doc.contains("problems") && doc["problems"].is_array()) {
    for (const auto& problem : doc["problems"]) {
      out += "  problem: " +
             palette.bad(problem.is_string() ? problem.get<std::string>() : problem.dump()) + "\n";
    }
  }
  if (doc.contains("gateway")) out += "gateway    " + text_of(doc, "gateway") + "\n";
  config_section(doc, now, palette, out);
  adapters_section(doc, palette, out);
  const auto rows = device_rows(doc, bindings, now);
  out += "\ndevices    " + std::to_string(rows.size()) + "\n";
  if (!rows.empty()) {
    std::string table = render_devices(rows, palette);
    // Indented like the other sections.
    std::string indented;
    size_t start = 0;
    while (start < table.size()) {
      const auto end = table.find('\n', start);
      indented += "  " + table.substr(start, end - start + 1);
      start = end + 1;
    }
    out += indented;
  }
  sessions_section(doc, now, palette, out);
  journal_section(doc, palette, out);
  return out;
}

}  // namespace fieldlink::ctl
