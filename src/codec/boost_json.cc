// The one translation unit that compiles Boost.JSON (header-only use of the Debian package).
#include <boost/json/src.hpp>
