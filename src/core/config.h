#pragma once
// The typed registry of MIXCCL_* environment variables.
//
// Every knob is declared exactly once, in config_vars.cc, with its type, default and description;
// `mixccl-info` prints the registry with the values in force. Values are read from the environment when
// first asked for (so tests may setenv before the first use of a variable); a malformed value is reported
// once at WARN and the default is used. Per-communicator API config (mixcclConfig_t) overrides these.
#include <cstdint>
#include <string>
#include <vector>

namespace mixccl {

enum class ConfigType { kInt, kBytes, kDouble, kString };

struct ConfigVar {
  const char* name;          // "MIXCCL_TIMEOUT"
  ConfigType type;           // kBytes accepts K/M/G suffixes (powers of 1024)
  const char* defaultValue;  // as text, in the variable's own syntax
  const char* description;   // one line, with units
};

// All declared variables, in declaration order.
const std::vector<const ConfigVar*>& configRegistry();

// The raw text in force: the environment's value if set and non-empty, else the default.
std::string configText(const ConfigVar& var);

int64_t configInt(const ConfigVar& var);      // kInt and kBytes
double configDouble(const ConfigVar& var);    // kDouble (also accepts kInt)
std::string configString(const ConfigVar& var);

// Parses "123", "4K", "16M", "1G" (powers of 1024). Returns false on malformed input.
bool parseBytes(const std::string& text, int64_t* out);

// A setting of 0, 1 or auto as a rank offers it to the others at init (one byte on the wire; kSettingBad for any
// other text, so that every rank can fail alike).
enum OnOffAuto : uint8_t { kSettingOff = 0, kSettingOn = 1, kSettingAuto = 2, kSettingBad = 3 };
OnOffAuto parseOnOffAuto(const std::string& text);
// "0", "1" or "auto" (a bad setting as "0": it is reported before any name is needed).
const char* onOffAutoName(uint8_t setting);

// Declared variables (definitions and descriptions in config_vars.cc).
namespace cfg {
extern const ConfigVar kDebug;
extern const ConfigVar kTimeout;
extern const ConfigVar kRootAddr;
extern const ConfigVar kSocketIfname;
extern const ConfigVar kHostname;
extern const ConfigVar kSecret;
extern const ConfigVar kAlgo;
extern const ConfigVar kSite;
extern const ConfigVar kLinkCosts;
extern const ConfigVar kChunkBytes;
extern const ConfigVar kShmSlotBytes;
extern const ConfigVar kShmSlots;
extern const ConfigVar kNetSlotBytes;
extern const ConfigVar kNetSlots;
extern const ConfigVar kSpinUs;
extern const ConfigVar kTransports;
extern const ConfigVar kOfiProvider;
extern const ConfigVar kTopoFile;
extern const ConfigVar kStreamWait;
extern const ConfigVar kGpuIpc;
extern const ConfigVar kGpuIpcChunkBytes;
extern const ConfigVar kGpuIpcFused;
extern const ConfigVar kStagingMaxBytes;
extern const ConfigVar kDeviceSteps;
extern const ConfigVar kStagedPieceBytes;
extern const ConfigVar kSharedReduce;
extern const ConfigVar kSharedReduceSlotBytes;
}  // namespace cfg

}  // namespace mixccl
