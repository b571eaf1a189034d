#include "core/config.h"

#include <cerrno>
#include <cstdlib>

#include "core/log.h"

namespace mixccl {

std::string configText(const ConfigVar& var) {
  const char* env = getenv(var.name);
  if (env != nullptr && *env != '\0') return env;
  return var.defaultValue;
}

OnOffAuto parseOnOffAuto(const std::string& text) {
  return text == "1" ? kSettingOn : text == "0" ? kSettingOff : text == "auto" ? kSettingAuto : kSettingBad;
}

const char* onOffAutoName(uint8_t setting) {
  return setting == kSettingOn ? "1" : setting == kSettingAuto ? "auto" : "0";
}

bool parseBytes(const std::string& text, int64_t* out) {
  if (text.empty()) return false;
  char* end = nullptr;
  errno = 0;
  long long v = strtoll(text.c_str(), &end, 10);
  if (errno != 0 || end == text.c_str() || v < 0) return false;
  int64_t mult = 1;
  if (*end != '\0') {
    switch (*end) {
      case 'k': case 'K': mult = 1LL << 10; break;
      case 'm': case 'M': mult = 1LL << 20; break;
      case 'g': case 'G': mult = 1LL << 30; break;
      default: return false;
    }
    ++end;
    if (*end == 'B' || *end == 'b') ++end;
    if (*end != '\0') return false;
  }
  if (v > INT64_MAX / mult) return false;
  *out = v * mult;
  return true;
}

namespace {

template <typename T, typename Parse>
T parseOrDefault(const ConfigVar& var, Parse parse) {
  T value{};
  std::string text = configText(var);
  if (parse(text, &value)) return value;
  MIXCCL_LOG(kWarn, "%s=%s is malformed; using the default %s", var.name, text.c_str(), var.defaultValue);
  parse(std::string(var.defaultValue), &value);
  return value;
}

bool parseInt(const std::string& text, int64_t* out) {
  char* end = nullptr;
  errno = 0;
  long long v = strtoll(text.c_str(), &end, 10);
  if (errno != 0 || end == text.c_str() || *end != '\0') return false;
  *out = v;
  return true;
}

bool parseDouble(const std::string& text, double* out) {
  char* end = nullptr;
  errno = 0;
  double v = strtod(text.c_str(), &end);
  if (errno != 0 || end == text.c_str() || *end != '\0') return false;
  *out = v;
  return true;
}

}  // namespace

int64_t configInt(const ConfigVar& var) {
  if (var.type == ConfigType::kBytes) return parseOrDefault<int64_t>(var, parseBytes);
  return parseOrDefault<int64_t>(var, parseInt);
}

double configDouble(const ConfigVar& var) { return parseOrDefault<double>(var, parseDouble); }

std::string configString(const ConfigVar& var) { return configText(var); }

}  // namespace mixccl
