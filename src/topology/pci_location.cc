#include "topology/pci_location.h"

#include <cstdio>

namespace mixccl {

const char* pciDistanceName(PciDistance d) {
  switch (d) {
    case PciDistance::kSameSwitch: return "same-switch";
    case PciDistance::kCrossSwitch: return "cross-switch";
    case PciDistance::kHostBridge: return "host-bridge";
    case PciDistance::kSameNuma: return "same-numa";
    case PciDistance::kSamePackage: return "same-package";
    case PciDistance::kCrossPackage: return "cross-package";
  }
  return "?";
}

PciDistance pciDistance(const PciLocation& a, const PciLocation& b) {
  size_t common = 0;
  while (common < a.bridges.size() && common < b.bridges.size() && a.bridges[common] == b.bridges[common]) {
    ++common;
  }
  if (common >= 2) {
    // The deepest shared bridge is a PCI-to-PCI bridge (bridges[0] is the host bridge). Inside one switch each
    // device hangs below one downstream port of the switch's upstream port; more bridges mean more switches.
    size_t belowA = a.bridges.size() - common;
    size_t belowB = b.bridges.size() - common;
    return belowA <= 1 && belowB <= 1 ? PciDistance::kSameSwitch : PciDistance::kCrossSwitch;
  }
  if (common == 1) return PciDistance::kHostBridge;
  if (a.numa >= 0 && a.numa == b.numa) return PciDistance::kSameNuma;
  if (a.package >= 0 && a.package == b.package) return PciDistance::kSamePackage;
  return PciDistance::kCrossPackage;
}

namespace {

int hexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Parses a hex field of 1..maxDigits digits ending at `end` (exclusive); false if empty, too long or not hex.
bool hexField(const std::string& s, size_t begin, size_t end, size_t maxDigits, unsigned long* out) {
  if (end <= begin || end - begin > maxDigits) return false;
  unsigned long v = 0;
  for (size_t i = begin; i < end; ++i) {
    int d = hexDigit(s[i]);
    if (d < 0) return false;
    v = v * 16 + static_cast<unsigned long>(d);
  }
  *out = v;
  return true;
}

}  // namespace

std::string normalizePciBusId(const std::string& text) {
  size_t dot = text.rfind('.');
  size_t lastColon = text.rfind(':');
  if (dot == std::string::npos || lastColon == std::string::npos || lastColon > dot) return "";
  size_t firstColon = text.find(':');
  unsigned long domain = 0, bus = 0, dev = 0, fn = 0;
  size_t busBegin = 0;
  if (firstColon != lastColon) {
    if (!hexField(text, 0, firstColon, 8, &domain) || domain > 0xffff) return "";
    busBegin = firstColon + 1;
  }
  if (!hexField(text, busBegin, lastColon, 2, &bus) || !hexField(text, lastColon + 1, dot, 2, &dev) ||
      !hexField(text, dot + 1, text.size(), 1, &fn) || dev > 0x1f || fn > 7) {
    return "";
  }
  char buf[32];
  snprintf(buf, sizeof(buf), "%04lx:%02lx:%02lx.%lx", domain, bus, dev, fn);
  return buf;
}

}  // namespace mixccl
