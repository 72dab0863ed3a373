// Runs a fuzz target once over every file of the corpus directories (or files) it is given,
// without libFuzzer: how the normal build replays the committed corpora as a test. A crash
// or a failed property aborts, and so fails the test; the file being run is printed first
// so the failure names its input.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace {

int run_file(const std::filesystem::path& file) {
  std::ifstream in{file, std::ios::binary};
  if (!in) {
    std::cerr << "cannot read " << file << "\n";
    return 1;
  }
  std::vector<char> bytes{std::istreambuf_iterator<char>{in}, std::istreambuf_iterator<char>{}};
  std::cerr << "running " << file.filename().string() << " (" << bytes.size() << " bytes)\n";
  LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  namespace fs = std::filesystem;
  if (argc < 2) {
    std::cerr << "usage: " << argv[0] << " CORPUS_DIR_OR_FILE...\n";
    return 2;
  }
  std::size_t runs = 0;
  for (int i = 1; i < argc; ++i) {
    fs::path arg{argv[i]};
    std::vector<fs::path> files;
    if (fs::is_directory(arg)) {
      for (auto& entry : fs::directory_iterator{arg})
        if (entry.is_regular_file()) files.push_back(entry.path());
    } else {
      files.push_back(arg);
    }
    std::sort(files.begin(), files.end());  // the same order on every machine
    for (auto& f : files) {
      if (run_file(f) != 0) return 1;
      ++runs;
    }
  }
  if (runs == 0) {
    std::cerr << "no input found: an empty corpus tests nothing\n";
    return 1;
  }
  std::cout << runs << " inputs ran\n";
  return 0;
}
