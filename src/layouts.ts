/**
 * Object layouts that outlive every log.
 *
 * V8 gives each class's instances a layout (a hidden class, or map) built by the field
 * definitions of the constructor, one transition per field. Only the constructor's first map is
 * held strongly; the maps its transitions lead to live only while an object has them. When every
 * instance of a class is gone at a garbage collection (each log closed, then a GC before the next
 * opens), its maps die, the optimized code that embedded them is thrown away ("weak objects" in
 * `--trace-deopt`), and the next instances get new maps that the read path has to be optimized
 * for again: tens of milliseconds of compiling per open, during the first reads.
 *
 * So a class on the read path keeps one inert instance here, made by a factory that calls its
 * constructor with arguments that open no file and hold no memory worth counting; an anchor never
 * holds a log's descriptors, mappings or buffers. The factories run again when a log closes
 * (`renewLayouts`): V8 replaces a map when instances store a new kind of value in a field (a
 * double where an integer was), and an anchor made before that holds the replaced map, which new
 * instances no longer get; one made while the closing log's objects are still alive gets theirs.
 */
const factories: (() => object)[] = [];
const anchors: object[] = [];

/** Keeps an instance made by `make` (now, and again at each `renewLayouts`) for the life of the process. */
export function keepLayout(make: () => object): void {
  factories.push(make);
  anchors.push(make());
}

/** Replaces every anchor by a new one: called while instances with the current layouts are alive. */
export function renewLayouts(): void {
  for (let i = 0; i < factories.length; i++) anchors[i] = factories[i]!();
}
