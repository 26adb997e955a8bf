/// An object that owns a libuv handle on some ``EventLoop``.
///
/// Every handle Basalt opens stores an `Unmanaged` reference to its owner in `handle.data`. When the
/// loop shuts down it walks its handles (`uv_walk`) and calls ``closeForLoopShutdown()`` on each
/// owner whose handle is not already closing; the owner fails whatever work is pending on it with a
/// "shut down" reason and closes the handle (freeing it in the close callback). Handles whose `data`
/// is nil belong to the loop itself.
protocol LoopHandleOwner: AnyObject {
    /// Called on the loop thread while the loop shuts down. Must close the owned handle and must not
    /// open new ones.
    func closeForLoopShutdown()
}
