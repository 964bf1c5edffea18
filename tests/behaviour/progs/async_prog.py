import asyncio
async def leaf(i):
    await asyncio.sleep(0)
    return i * 2
async def main():
    r = await asyncio.gather(*(leaf(i) for i in range(50)))
    print(sum(r))
asyncio.run(main())
